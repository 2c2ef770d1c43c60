"""task_type psi: the original worker's task_config keys (keys per party, receiver) and result fields (#13)."""

import copy

import pytest

from sfworker.errors import ParamsError
from sfworker.params import build_job_spec
from sfworker.tasks.registry import get_task_type


def params(**over):
    tc = {"task_type": "psi", "keys": {"alice": ["uid"], "bob": ["id"]},
          "input_paths": {"alice": "alice.csv", "bob": "/data/bob.csv"},
          "output_paths": {"alice": "out/alice_psi.csv", "bob": "/data/bob_psi.csv"},
          "receiver": "alice"}
    tc.update(over)
    return {"task_config": {k: v for k, v in tc.items() if v is not None}}


def spec_of(cfg, **over):
    return build_job_spec(cfg, "req-1", params(**over))


def refused(cfg, **over):
    with pytest.raises(ParamsError) as e:
        spec_of(cfg, **over)
    return str(e.value)


def test_keys_per_party_and_receiver_alias(cfg):
    tc = spec_of(cfg)["task_config"]
    assert tc["keys"] == {"alice": ["uid"], "bob": ["id"]}
    assert tc["receiver_party"] == "alice" and tc["intersection_count_of"] == "self"
    # this project's defaults stay (the original's are applied by sfworker.compat to the original's messages)
    assert tc["sort"] is True and tc["precheck_input"] is True and tc["broadcast_result"] is True


def test_list_keys_and_receiver_party_unchanged(cfg):
    tc = spec_of(cfg, keys=["uid"], receiver=None, receiver_party="bob")["task_config"]
    assert tc["keys"] == ["uid"] and tc["receiver_party"] == "bob"
    assert spec_of(cfg, keys="uid")["task_config"]["keys"] == ["uid"]


def test_receiver_and_receiver_party_may_agree(cfg):
    assert spec_of(cfg, receiver_party="alice")["task_config"]["receiver_party"] == "alice"


BAD = [
    ("keys-unknown-party", {"keys": {"alice": ["uid"], "mallory": ["uid"]}},
     "task_config.keys.mallory: unknown party 'mallory' (parties in this deployment: alice, bob, carol)"),
    ("keys-parties-differ", {"keys": {"alice": ["uid"], "carol": ["uid"]}},
     "task_config.keys: parties alice, carol differ from the job's parties alice, bob (the keys of "
     "task_config.input_paths)"),
    ("keys-missing-party", {"keys": {"alice": ["uid"]}},
     "task_config.keys: parties alice differ from the job's parties alice, bob (the keys of task_config.input_paths)"),
    ("keys-empty-columns", {"keys": {"alice": ["uid"], "bob": []}},
     "task_config.keys.bob must be a non-empty list of column names, got []"),
    ("keys-empty-name", {"keys": {"alice": ["uid"], "bob": [""]}},
     "task_config.keys.bob must be a non-empty list of column names, got ['']"),
    ("keys-column-counts", {"keys": {"alice": ["uid"], "bob": ["id", "x"]}},
     "task_config.keys: every party joins on the same number of columns, got alice: 1, bob: 2"),
    ("keys-empty-list", {"keys": []}, "task_config.keys must be a non-empty list of column names, got []"),
    ("receivers-disagree", {"receiver_party": "bob"},
     "task_config.receiver 'alice' and task_config.receiver_party 'bob' disagree (receiver is the original worker's "
     "name of receiver_party: send one of them)"),
    ("no-receiver", {"receiver": None},
     "task_config.receiver_party is required (a party name; the original worker's name receiver is accepted too)"),
    ("receiver-type", {"receiver": 5}, "task_config.receiver must be a party name, got int 5"),
    ("receiver-not-in-job", {"receiver": "carol"},
     "task_config.receiver_party 'carol' is not one of the job's parties ['alice', 'bob']"),
    ("count-of", {"intersection_count_of": "all"},
     "task_config.intersection_count_of must be 'self' or 'receiver', got 'all'"),
]


@pytest.mark.parametrize("name,over,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_psi_keys(cfg, name, over, expected):
    assert refused(cfg, **over) == expected


class FakePyu:
    def __init__(self, party):
        self.party = party


class FakeSpu:
    def __init__(self, reports):
        self.reports = reports
        self.calls = []

    def psi_csv(self, key, input_path, output_path, receiver, **kw):
        self.calls.append((key, input_path, output_path, receiver, kw))
        return copy.deepcopy(self.reports)


class FakeRt:
    def __init__(self, self_party, reports):
        self.self_party = self_party
        self.parties = ["alice", "bob"]
        self.spu = FakeSpu(reports)
        self._pyus = {p: FakePyu(p) for p in self.parties}

    def pyu(self, party):
        return self._pyus[party]

    def output_path(self, path):
        return path + ".staging"


REPORTS = [{"party": "alice", "original_count": 135, "intersection_count": 120},
           {"party": "bob", "original_count": 120, "intersection_count": -1}]


def run(cfg, self_party, **over):
    spec = spec_of(cfg, **over)
    rt = FakeRt(self_party, REPORTS)
    return get_task_type("psi").run(spec["task_config"], rt), rt, spec


def test_run_passes_keys_per_party_and_flags(cfg):
    out, rt, spec = run(cfg, "alice", broadcast_result=False, sort=False, precheck_input=False)
    key, inputs, outputs, receiver, kw = rt.spu.calls[0]
    assert {p.party: cols for p, cols in key.items()} == {"alice": ["uid"], "bob": ["id"]}
    assert all(isinstance(p, FakePyu) for p in key)
    assert receiver == "alice"
    assert kw["broadcast_result"] is False and kw["sort"] is False and kw["precheck_input"] is False
    assert kw["protocol"] == "KKRT_PSI_2PC"
    mine = spec["task_config"]["output_paths"]["alice"]
    assert {p.party: v for p, v in outputs.items()} == {"alice": mine + ".staging", "bob": "/data/bob_psi.csv"}


def test_run_result_has_the_original_fields(cfg):
    out, _rt, spec = run(cfg, "alice")
    assert out == {
        "reports": REPORTS,
        "intersection_count": 120,
        "output_path": spec["task_config"]["output_paths"]["alice"],
        "output_paths": spec["task_config"]["output_paths"],
        "psi_protocol": "KKRT_PSI_2PC",
        "receiver": "alice",
        "parties": ["alice", "bob"],
    }


def test_intersection_count_self_or_receiver(cfg):
    # bob, not the receiver, without broadcast: SecretFlow reports -1 for him; the original reports the receiver's
    assert run(cfg, "bob")[0]["intersection_count"] == -1
    assert run(cfg, "bob", intersection_count_of="receiver")[0]["intersection_count"] == 120
    assert run(cfg, "alice", intersection_count_of="receiver")[0]["intersection_count"] == 120


def test_no_output_to_publish_for_a_party_that_gets_none(cfg):
    # alice is not the receiver and the result is not broadcast: SecretFlow writes nothing for her, so the job must
    # not stage or publish (and then warn about) her output file
    spec = spec_of(cfg, receiver="bob", broadcast_result=False)
    assert spec["outputs"] == []
    assert run(cfg, "alice", receiver="bob", broadcast_result=False)[0]["output_path"] is None
    # the receiver, or everybody with broadcast_result, has one
    mine = spec["task_config"]["output_paths"]["alice"]
    assert [o["path"] for o in spec_of(cfg, receiver="alice", broadcast_result=False)["outputs"]] == [mine]
    assert [o["path"] for o in spec_of(cfg, receiver="bob", broadcast_result=True)["outputs"]] == [mine]
    assert run(cfg, "alice", receiver="bob")[0]["output_path"] == mine
