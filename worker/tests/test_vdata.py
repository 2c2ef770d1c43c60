"""sfworker.tasks._vdata: party->path maps where only some parties hold data, column specs, the vertical schema
(shared join keys), and write_vertical (each party writes its own file; this party's under the staging name)."""

import pandas as pd
import pytest

from sfworker.errors import ParamsError
from sfworker.tasks import _vdata
from sfworker.tasks.registry import ValidationContext
from vfake import VDF, FakeRt, Obj


@pytest.fixture
def ctx(cfg):
    return ValidationContext(cfg)


def test_party_paths_one_data_party_and_others_passed_through(ctx, data_dir):
    m = _vdata.party_paths(ctx, {"input_data": {"alice": "alice.csv"}}, "input_data", "input")
    assert m == {"alice": f"{data_dir}/alice.csv"} and ctx.inputs == [f"{data_dir}/alice.csv"]
    # a map without this party: nothing of ours to resolve, the others' paths as given
    m = _vdata.party_paths(ctx, {"input_data": {"bob": "/x/bob.csv"}}, "input_data", "input")
    assert m == {"bob": "/x/bob.csv"}


def test_party_paths_output_is_resolved_and_staged(ctx, data_dir):
    m = _vdata.party_paths(ctx, {"o": {"alice": "out/a.csv", "bob": "b.csv"}}, "o", "output")
    assert m == {"alice": f"{data_dir}/out/a.csv", "bob": "b.csv"}
    assert ctx.outputs == {f"{data_dir}/out/a.csv": False}


def test_party_paths_optional(ctx):
    assert _vdata.party_paths(ctx, {}, "output_data", "output", required=False) is None


BAD_PATHS = [
    ({}, "task_config.input_data is required (a mapping party -> input file)"),
    ({"input_data": {}}, "task_config.input_data must be a non-empty mapping party -> input file, got dict {}"),
    ({"input_data": ["alice.csv"]},
     "task_config.input_data must be a non-empty mapping party -> input file, got list ['alice.csv']"),
    ({"input_data": {"alice": "alice.csv", "mallory": "m.csv"}},
     "task_config.input_data: unknown party 'mallory' (parties in this deployment: alice, bob, carol)"),
    ({"input_data": {"alice": "alice.csv", "bob": ""}},
     "task_config.input_data.bob: must be a non-empty string path, got ''"),
]


@pytest.mark.parametrize("cfgv,expected", BAD_PATHS)
def test_party_paths_errors(ctx, cfgv, expected):
    with pytest.raises(ParamsError) as e:
        _vdata.party_paths(ctx, cfgv, "input_data", "input")
    assert str(e.value) == expected


def test_party_paths_own_missing_input(ctx, data_dir):
    with pytest.raises(ParamsError, match=r"task_config.input_data.alice: input file .*/nope.csv does not exist"):
        _vdata.party_paths(ctx, {"input_data": {"alice": "nope.csv"}}, "input_data", "input")


def test_same_parties_and_job_parties(ctx):
    _vdata.same_parties({"alice": 1}, {"alice": 2}, "input_data", "output_data")
    with pytest.raises(ParamsError) as e:
        _vdata.same_parties({"alice": 1, "bob": 1}, {"alice": 2}, "input_data", "output_data")
    assert str(e.value) == "task_config.output_data parties alice differ from task_config.input_data parties alice, bob"
    assert _vdata.job_parties(ctx, {"bob": 1}, ["alice"]) == ["alice", "bob"]
    assert _vdata.job_parties(ctx, {"alice": 1}) == ["alice"]
    with pytest.raises(ParamsError) as e:
        _vdata.job_parties(ctx, {"bob": 1}, what="task_config.input_data")
    assert str(e.value) == "task_config.input_data: this party 'alice' is not part of the job (parties: bob)"


def test_column_spec_forms():
    assert _vdata.column_spec({}, "columns", ["alice"]) is None
    assert _vdata.column_spec({"columns": ["a", "b"]}, "columns", ["alice"]) == ["a", "b"]
    assert _vdata.column_spec({"columns": {"bob": ["b"], "alice": ["a"]}}, "columns", ["alice", "bob"]) == \
        {"alice": ["a"], "bob": ["b"]}


BAD_COLUMNS = [
    ({}, True, "task_config.columns is required (a list of column names, or a mapping party -> list of column names)"),
    ({"columns": []}, False, "task_config.columns must be a non-empty list of column names, got []"),
    ({"columns": "a"}, False, "task_config.columns must be a non-empty list of column names, got 'a'"),
    ({"columns": ["a", 1]}, False, "task_config.columns must be a non-empty list of column names, got ['a', 1]"),
    ({"columns": ["a", "b", "a"]}, False, "task_config.columns: column(s) a listed twice"),
    ({"columns": {"carol": ["c"]}}, False,
     "task_config.columns: party 'carol' holds no data in this job (data parties: alice, bob)"),
    ({"columns": {}}, False, "task_config.columns must name at least one column"),
    ({"columns": {"alice": ["a"], "bob": ["a"]}}, False, "task_config.columns: column 'a' listed for both alice and bob"),
]


@pytest.mark.parametrize("cfgv,required,expected", BAD_COLUMNS)
def test_column_spec_errors(cfgv, required, expected):
    with pytest.raises(ParamsError) as e:
        _vdata.column_spec(cfgv, "columns", ["alice", "bob"], required=required)
    assert str(e.value) == expected


SCHEMA = _vdata.Schema({"alice": ["id", "a1", "a2"], "bob": ["b1", "id"]})


def test_schema_shared_own_split():
    assert SCHEMA.shared == ["id"]
    assert SCHEMA.own("alice") == ["a1", "a2"] and SCHEMA.own("bob") == ["b1"]
    assert SCHEMA.split(None) == {"alice": ["a1", "a2"], "bob": ["b1"]}
    assert SCHEMA.split(["b1", "a2"]) == {"bob": ["b1"], "alice": ["a2"]}
    assert SCHEMA.split({"alice": ["a2"]}) == {"alice": ["a2"]}


@pytest.mark.parametrize("cols,expected", [
    (["a1", "zz"], "task_config.columns: column(s) zz in no party's file (alice: id, a1, a2; bob: b1, id)"),
    (["id"], "task_config.columns: column(s) id are in several parties' files (join keys, kept as they are)"),
    ({"bob": ["a1"]}, "task_config.columns.bob: column(s) a1 not in bob's file (its columns: b1, id)"),
    ({"bob": ["id"]}, "task_config.columns.bob: column(s) id are in several parties' files (join keys, kept as "
                      "they are)"),
])
def test_schema_split_errors(cols, expected):
    with pytest.raises(ValueError) as e:
        SCHEMA.split(cols)
    assert str(e.value) == expected


def test_read_schema_each_party_reads_its_own_file(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("id,x\n1,2\n")
    b.write_text("id,y,z\n1,2,3\n")
    rt = FakeRt()
    s = _vdata.read_schema(rt, {"alice": str(a), "bob": str(b)})
    assert s.headers == {"alice": ["id", "x"], "bob": ["id", "y", "z"]}
    assert [(c[0], c[2]) for c in rt.calls] == [("alice", (str(a),)), ("bob", (str(b),))]


def test_write_vertical_own_staging_others_as_given_and_keys_back(tmp_path):
    a_in = tmp_path / "a.csv"
    a_in.write_text("x,id\n1,7\n2,8\n")
    out_a = str(tmp_path / "a_out.csv")
    out_b = str(tmp_path / "b_out.csv")
    schema = _vdata.Schema({"alice": ["x", "id"], "bob": ["id", "y"]})
    rt = FakeRt("alice")
    # bob's partition: in this fake it runs here too, so give it a path we can check
    vdf = VDF({rt.pyu("alice"): Obj("alice", pd.DataFrame({"x": [0.5, 1.5], "x_new": [1, 0]})),
               rt.pyu("bob"): Obj("bob", pd.DataFrame({"y": [3, 4]}))})
    b_in = tmp_path / "b.csv"
    b_in.write_text("id,y\n7,0\n8,0\n")
    _vdata.write_vertical(rt, vdf, {"alice": out_a, "bob": out_b}, {"alice": str(a_in), "bob": str(b_in)}, schema)
    writes = [c for c in rt.calls if c[1] == "write"]
    assert [(c[0], c[2][-1]) for c in writes] == [("alice", out_a + ".staging"), ("bob", out_b)]
    # the file's column order, the join key read back from the party's own input, new columns last
    assert pd.read_csv(out_a + ".staging").to_dict("list") == {"x": [0.5, 1.5], "id": [7, 8], "x_new": [1, 0]}
    assert pd.read_csv(out_b).to_dict("list") == {"id": [7, 8], "y": [3, 4]}
    assert len(rt.sf.waited) == 2


def test_write_vertical_party_with_only_keys(tmp_path):
    b_in = tmp_path / "b.csv"
    b_in.write_text("id\n7\n8\n")
    schema = _vdata.Schema({"alice": ["id", "x"], "bob": ["id"]})
    rt = FakeRt("bob")
    vdf = VDF({rt.pyu("alice"): Obj("alice", pd.DataFrame({"x": [1, 2]}))})
    out_b = str(tmp_path / "b_out.csv")
    _vdata.write_vertical(rt, vdf, {"bob": out_b}, {"bob": str(b_in)}, schema)
    assert pd.read_csv(out_b + ".staging").to_dict("list") == {"id": [7, 8]}
    with pytest.raises(ValueError, match="party bob has nothing to write"):
        _vdata.write_vertical(rt, vdf, {"bob": out_b}, None, schema)


def test_column_types_are_plain_values():
    rt = FakeRt("alice")
    vdf = VDF({rt.pyu("alice"): Obj("alice", pd.DataFrame({"x": [1.5], "n": [1], "s": ["a"], "b": [True]})),
               rt.pyu("bob"): Obj("bob", pd.DataFrame({"y": [2]}))})
    types = _vdata.column_types(rt, vdf)
    assert types == {"alice": {"x": ("float64", True), "n": ("int64", True), "s": ("object", False),
                               "b": ("bool", False)},
                     "bob": {"y": ("int64", True)}}
    # computed on each owner's PYU
    assert [c[0] for c in rt.calls if c[1] == "types"] == ["alice", "bob"]


def test_write_vertical_takes_frames_per_party(tmp_path):
    rt = FakeRt("alice")
    out = str(tmp_path / "a.csv")
    _vdata.write_vertical(rt, {"alice": Obj("alice", pd.DataFrame({"x": [1, 2]}))}, {"alice": out})
    assert pd.read_csv(out + ".staging").to_dict("list") == {"x": [1, 2]}
