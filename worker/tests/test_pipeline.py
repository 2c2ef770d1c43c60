"""task_type pipeline (#14): several task types in one job, with fake step types and the real JobRuntime."""

import pytest

from sfworker.errors import ParamsError
from sfworker.job import JobRuntime
from sfworker.params import build_job_spec
from sfworker.tasks import registry
from sfworker.tasks.pipeline import PipelineStepError, in_step, with_staged_inputs
from sfworker.tasks.registry import TaskType, get_task_type, register_task, require


@pytest.fixture
def fakes(monkeypatch):
    """Fake step types: write (an output per party), read (an input per party, one party allowed), spu (needs SPU)."""
    registry.load_task_modules()  # the real types stay registered after the fakes are gone
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    calls = []

    @register_task("fake_write")
    class FakeWrite(TaskType):
        needs_spu = False
        allowed_keys = ("out", "value")
        sf_modules = ()

        def validate(self, task_config, ctx):
            self.check_keys(task_config)
            value = require(task_config, "value", int, "an int")
            outs = ctx.party_path_map(task_config, "out", "output", min_parties=1)
            return {"out": outs, "value": value}, sorted(outs)

        def run(self, cfg, rt):
            calls.append(("fake_write", cfg, list(rt.parties)))
            mine = cfg["out"].get(rt.self_party)
            if mine:
                with open(rt.output_path(mine), "w", encoding="utf-8") as f:
                    f.write(str(cfg["value"]))
            return {"wrote": mine}

    @register_task("fake_read")
    class FakeRead(TaskType):
        needs_spu = False
        allowed_keys = ("inp",)
        sf_modules = ()

        def validate(self, task_config, ctx):
            self.check_keys(task_config)
            ins = ctx.party_path_map(task_config, "inp", "input", min_parties=1)
            return {"inp": ins}, sorted(ins)

        def run(self, cfg, rt):
            calls.append(("fake_read", cfg, list(rt.parties)))
            mine = cfg["inp"].get(rt.self_party)
            if mine is None:
                return {"read": None}
            with open(mine, encoding="utf-8") as f:
                return {"read": f.read()}

    @register_task("fake_spu")
    class FakeSpu(TaskType):
        needs_spu = True
        allowed_keys = ("parties", "fail")
        sf_modules = ()

        def validate(self, task_config, ctx):
            self.check_keys(task_config)
            parties = ctx.check_parties(task_config["parties"], "task_config.parties")
            return {"fail": bool(task_config.get("fail"))}, parties

        def run(self, cfg, rt):
            calls.append(("fake_spu", cfg, list(rt.parties)))
            if cfg["fail"]:
                raise ValueError("boom")
            return {"spu": rt.spu}

    return calls


def spec_of(cfg, steps, **tc):
    return build_job_spec(cfg, "req-1", {"task_config": dict(tc, task_type="pipeline", steps=steps)})


def refused(cfg, steps, **tc):
    with pytest.raises(ParamsError) as e:
        spec_of(cfg, steps, **tc)
    return str(e.value)


class FakeSf:
    def PYU(self, party):  # noqa: N802  (secretflow's name)
        return ("pyu", party)


def runtime(spec):
    rt = JobRuntime(FakeSf(), spec)
    rt._spu = "the-spu"
    return rt


def test_parties_are_the_union_and_needs_spu_only_if_a_step_needs_it(cfg, fakes):
    spec = spec_of(cfg, [{"task_type": "fake_write", "value": 1, "out": {"alice": "a1.csv"}},
                         {"task_type": "fake_read", "inp": {"alice": "alice.csv", "bob": "/b/b.csv"}}])
    assert spec["parties"] == ["alice", "bob"] and spec["needs_spu"] is False
    spec = spec_of(cfg, [{"task_type": "fake_write", "value": 1, "out": {"alice": "a1.csv"}},
                         {"task_type": "fake_spu", "parties": ["alice", "carol"]}])
    assert spec["parties"] == ["alice", "carol"] and spec["needs_spu"] is True
    assert spec["task_config"]["steps"][0]["parties"] == ["alice"]


def test_a_step_may_read_what_an_earlier_step_writes(cfg, fakes, data_dir):
    spec = spec_of(cfg, [{"task_type": "fake_write", "value": 7, "out": {"alice": "mid/x.csv", "bob": "/b/x.csv"}},
                         {"task_type": "fake_read", "inp": {"alice": "mid/x.csv", "bob": "/b/x.csv"}}])
    mid = f"{data_dir}/mid/x.csv"
    steps = spec["task_config"]["steps"]
    assert steps[1]["staged_inputs"] == [mid] and steps[0]["staged_inputs"] == []
    assert [o["path"] for o in spec["outputs"]] == [mid]
    out = get_task_type("pipeline").run(spec["task_config"], runtime(spec))
    staging = spec["outputs"][0]["staging"]
    assert out["steps"][0]["task_type"] == "fake_write" and out["steps"][0]["wrote"] == mid
    # the second step read the first one's staging file (the final name is published after the job)
    assert out["steps"][1] == dict(out["steps"][1], task_type="fake_read", read="7")
    assert fakes[1][1]["inp"] == {"alice": staging, "bob": "/b/x.csv"}
    assert isinstance(out["steps"][1]["seconds"], float)


def test_an_input_nobody_writes_must_exist(cfg, fakes, data_dir):
    # a later step's output does not count, nor does the step's own
    assert refused(cfg, [{"task_type": "fake_read", "inp": {"alice": "later.csv"}},
                         {"task_type": "fake_write", "value": 1, "out": {"alice": "later.csv"}}]) == (
        f"task_config.steps[0].inp.alice: input file {data_dir}/later.csv does not exist or is not a regular file")


def test_outputs_unique_in_the_job_and_never_an_input(cfg, fakes, data_dir):
    w = {"task_type": "fake_write", "value": 1, "out": {"alice": "o.csv"}}
    assert refused(cfg, [w, dict(w)]) == (
        f"task_config.steps[1].out.alice: output file {data_dir}/o.csv is already an output of the same job")
    assert refused(cfg, [{"task_type": "fake_read", "inp": {"alice": "alice.csv"}},
                         {"task_type": "fake_write", "value": 1, "out": {"alice": "alice.csv"}}],
                   ) == (f"task_config.steps[1].out.alice: output file {data_dir}/alice.csv exists; a job does not "
                         f"replace a file unless the task says so (task_config.steps[1].overwrite: true)")


def test_a_step_without_this_party_is_validated_and_run(cfg, fakes):
    spec = spec_of(cfg, [{"task_type": "fake_spu", "parties": ["alice", "bob"]},
                         {"task_type": "fake_read", "inp": {"bob": "/b/pred.csv"}}])
    assert spec["parties"] == ["alice", "bob"]
    out = get_task_type("pipeline").run(spec["task_config"], runtime(spec))
    # every party runs every step (RayFed), the step sees its own parties
    assert [(c[0], c[2]) for c in fakes] == [("fake_spu", ["alice", "bob"]), ("fake_read", ["bob"])]
    assert out["steps"][0]["spu"] == "the-spu" and out["steps"][1]["read"] is None


def test_this_party_must_be_in_some_step(cfg, fakes):
    assert refused(cfg, [{"task_type": "fake_read", "inp": {"bob": "/b/pred.csv"}}]) == (
        "task_config.steps: this party 'alice' is not part of any step (parties of the steps: bob)")


def test_a_plain_job_still_requires_this_party(cfg, fakes):
    with pytest.raises(ParamsError, match="this party 'alice' is not part of the job"):
        build_job_spec(cfg, "r", {"task_config": {"task_type": "fake_spu", "parties": ["bob", "carol"]}})


BAD = [
    ("no-steps", None, "task_config.steps is required (a non-empty list of task_configs, each with its task_type)"),
    ("steps-type", {"a": 1}, "task_config.steps must be a non-empty list of task_configs, each with its task_type, "
                             "got dict {'a': 1}"),
    ("empty", [], "task_config.steps must have 1..64 steps, got 0"),
    ("step-type", ["x"], "task_config.steps[0] must be a mapping (a task_config with its task_type), got str 'x'"),
    ("no-task-type", [{"value": 1}], "task_config.steps[0].task_type is required"),
    ("nested", [{"task_type": "pipeline", "steps": []}],
     "task_config.steps[0].task_type: a pipeline cannot contain a pipeline (list its steps in task_config.steps)"),
    ("job-slot", [{"task_type": "fake_spu", "parties": ["alice", "bob"], "job_slot": 2}],
     "task_config.steps[0].job_slot: a step has no job slot of its own (the job's slot is task_config.job_slot), "
     "got 2"),
    ("unknown-type", [{"task_type": "fake_spu", "parties": ["alice", "bob"]}, {"task_type": "nope"}],
     "task_config.steps[1].task_type: unknown task type 'nope'"),
    ("step-key", [{"task_type": "fake_write", "out": {"alice": "o.csv"}}],
     "task_config.steps[0].value is required (an int)"),
    ("step-unknown-key", [{"task_type": "fake_write", "value": 1, "out": {"alice": "o.csv"}, "colums": 1}],
     "task_config.steps[0]: unknown key(s) colums for task_type 'fake_write' (allowed: job_slot, out, task_type, "
     "value)"),
    ("step-unknown-party", [{"task_type": "fake_spu", "parties": ["alice", "mallory"]}],
     "task_config.steps[0].parties: unknown party 'mallory' (parties in this deployment: alice, bob, carol)"),
]


@pytest.mark.parametrize("name,steps,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_steps_name_the_step(cfg, fakes, name, steps, expected):
    assert refused(cfg, steps).startswith(expected)


def test_pipeline_keys(cfg, fakes):
    assert refused(cfg, [{"task_type": "fake_spu", "parties": ["alice", "bob"]}], stepz=1).startswith(
        "task_config: unknown key(s) stepz for task_type 'pipeline'")


def test_a_failing_step_is_named_and_stops_the_pipeline(cfg, fakes):
    spec = spec_of(cfg, [{"task_type": "fake_spu", "parties": ["alice", "bob"], "fail": True},
                         {"task_type": "fake_read", "inp": {"alice": "alice.csv"}}])
    with pytest.raises(PipelineStepError, match=r"^task_config.steps\[0\] \(fake_spu\) failed after \d+\.\ds: "
                                                r"ValueError: boom$") as e:
        get_task_type("pipeline").run(spec["task_config"], runtime(spec))
    assert isinstance(e.value.__cause__, ValueError)
    assert [c[0] for c in fakes] == ["fake_spu"]


def test_in_step_and_staged_inputs_helpers():
    assert in_step("task_config.x must be 1; see task_config.y", 3) == (
        "task_config.steps[3].x must be 1; see task_config.steps[3].y")
    assert in_step("task_config: unknown key(s) z", 0) == "task_config.steps[0]: unknown key(s) z"
    assert in_step("output directory /d does not exist", 1) == "task_config.steps[1]: output directory /d does not exist"
    assert with_staged_inputs({"a": ["/d/x", "/d/y", 3], "b": {"c": "/d/x"}}, {"/d/x": "/d/.s-x"}) == (
        {"a": ["/d/.s-x", "/d/y", 3], "b": {"c": "/d/.s-x"}})


def test_real_types_in_a_pipeline(cfg, data_dir):
    """psi then secure_sum on the PSI's output: the second step's input is the first one's."""
    spec = spec_of(cfg, [{"task_type": "psi", "keys": ["id"], "input_paths": {"alice": "alice.csv", "bob": "/b.csv"},
                          "output_paths": {"alice": "psi.csv", "bob": "/bpsi.csv"}, "receiver_party": "alice"},
                         {"task_type": "secure_sum", "column": "x",
                          "input_paths": {"alice": "psi.csv", "bob": "/bpsi.csv"}}])
    assert spec["needs_spu"] is True and spec["parties"] == ["alice", "bob"]
    assert spec["task_config"]["steps"][1]["staged_inputs"] == [f"{data_dir}/psi.csv"]
