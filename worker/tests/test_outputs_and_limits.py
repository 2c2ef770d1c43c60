"""Issue #12, item 8: a job's outputs never replace a file unless the task says so, are published atomically
(staging name in the same directory, then a rename), leave nothing behind when the job fails; and a job's
process has a memory limit (RLIMIT_DATA)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from sfworker import paths, runner
from sfworker.config import JOB_MEMORY_MIN_MB, job_memory_default_mb, parse_config
from sfworker.errors import ParamsError
from sfworker.job import JobRuntime, apply_memory_limit, discard_outputs, publish_outputs
from sfworker.params import build_job_spec

from helpers import base_config


def psi(**over):
    tc = {"task_type": "psi", "keys": ["id"], "input_paths": {"alice": "alice.csv", "bob": "b.csv"},
          "output_paths": {"alice": "out/alice_psi.csv", "bob": "b_out.csv"}, "receiver_party": "alice"}
    tc.update(over)
    return {"task_config": tc}


# ---------------------------------------------------------------- no overwrite unless asked


def test_an_existing_file_is_not_overwritten(cfg, data_dir):
    """The old worker let a job write over any file under data_dir - another job's input included."""
    with pytest.raises(ParamsError) as ei:
        build_job_spec(cfg, "r", psi(output_paths={"alice": "alice.csv", "bob": "b_out.csv"}, input_paths={
            "alice": "other.csv", "bob": "b.csv"}))
    assert "task_config.input_paths.alice" in str(ei.value)  # other.csv does not exist: inputs are checked first
    open(os.path.join(data_dir, "other.csv"), "w").write("id\n1\n")
    with pytest.raises(ParamsError) as ei:
        build_job_spec(cfg, "r", psi(output_paths={"alice": "alice.csv", "bob": "b_out.csv"},
                                     input_paths={"alice": "other.csv", "bob": "b.csv"}))
    assert str(ei.value) == (f"task_config.output_paths.alice: output file {os.path.realpath(data_dir)}/alice.csv "
                             f"exists; a job does not replace a file unless the task says so "
                             f"(task_config.overwrite: true)")


def test_overwrite_true_replaces(cfg, data_dir):
    open(os.path.join(data_dir, "old.csv"), "w").write("id\n")
    spec = build_job_spec(cfg, "r", psi(output_paths={"alice": "old.csv", "bob": "b_out.csv"}, overwrite=True))
    assert spec["task_config"]["overwrite"] is True
    assert spec["outputs"][0]["path"] == os.path.join(os.path.realpath(data_dir), "old.csv")
    assert spec["outputs"][0]["overwrite"] is True
    with pytest.raises(ParamsError, match=r"task_config.overwrite must be bool"):
        build_job_spec(cfg, "r", psi(overwrite="yes"))


def test_a_symlink_in_the_way_is_an_existing_file(cfg, data_dir):
    os.symlink(os.path.join(data_dir, "alice.csv"), os.path.join(data_dir, "link.csv"))
    with pytest.raises(ParamsError, match=r"output_paths.alice: output file .*/alice.csv exists"):
        build_job_spec(cfg, "r", psi(output_paths={"alice": "link.csv", "bob": "b_out.csv"}, overwrite=False))


def test_the_jobs_own_input_is_never_its_output(cfg, data_dir):
    with pytest.raises(ParamsError, match=r"output_paths.alice: output file .*/alice.csv is an input of the same job"):
        build_job_spec(cfg, "r", psi(output_paths={"alice": "alice.csv", "bob": "b_out.csv"}, overwrite=True))


def test_outputs_are_staged_next_to_their_final_name(cfg, data_dir):
    spec = build_job_spec(cfg, "r", psi())
    [entry] = spec["outputs"]
    final = os.path.join(os.path.realpath(data_dir), "out", "alice_psi.csv")
    assert entry["path"] == final == spec["task_config"]["output_paths"]["alice"] and entry["overwrite"] is False
    directory, base = os.path.split(entry["staging"])
    assert directory == os.path.dirname(final)  # same directory: the rename is atomic
    assert base.startswith(f".sfpart-{spec['job_name']}-") and base.endswith("-alice_psi.csv")
    assert build_job_spec(cfg, "r", psi())["outputs"][0]["staging"] != entry["staging"]  # one per run
    rt = JobRuntime(sf=None, spec=spec)
    assert rt.output_path(final) == entry["staging"]
    with pytest.raises(ValueError, match=r"is not an output file of this job"):
        rt.output_path(os.path.join(data_dir, "elsewhere.csv"))


# ---------------------------------------------------------------- publishing


def _entry(tmp_path, overwrite=False):
    final = tmp_path / "result.csv"
    return {"path": str(final), "staging": paths.staging_path(str(final), "sfjob-x"), "overwrite": overwrite}


def test_publish_renames_the_staged_file(tmp_path):
    e = _entry(tmp_path)
    open(e["staging"], "w").write("id\n1\n")
    assert publish_outputs({"outputs": [e]}) == [e["path"]]
    assert open(e["path"]).read() == "id\n1\n" and not os.path.exists(e["staging"])


def test_publish_does_not_replace_a_file_that_appeared_meanwhile(tmp_path):
    e = _entry(tmp_path)
    open(e["staging"], "w").write("mine\n")
    open(e["path"], "w").write("someone else's\n")
    with pytest.raises(paths.OutputExistsError, match=r"created by someone else while the job ran; this job's output "
                                                      r"is kept in .*\.sfpart-sfjob-x-"):
        publish_outputs({"outputs": [e]})
    assert open(e["path"]).read() == "someone else's\n" and open(e["staging"]).read() == "mine\n"


def test_publish_with_overwrite_replaces(tmp_path):
    e = _entry(tmp_path, overwrite=True)
    open(e["staging"], "w").write("new\n")
    open(e["path"], "w").write("old\n")
    assert publish_outputs({"outputs": [e]}) == [e["path"]]
    assert open(e["path"]).read() == "new\n"


def test_nothing_written_nothing_published(tmp_path, capsys):
    """A PSI party that gets no output (broadcast_result: false) wrote no file; or the party's PYU ran on another
    node whose data directory is not this one: the output is named in a warning with its staging name."""
    e = _entry(tmp_path)
    assert publish_outputs({"outputs": [e]}) == [] and not os.path.exists(e["path"])
    err = capsys.readouterr().err
    assert f"output {e['path']} was not written on this node" in err
    assert os.path.basename(e["staging"]) in err and "shared storage" in err


def test_a_failed_job_leaves_no_partial_output(tmp_path):
    e = _entry(tmp_path)
    open(e["staging"], "w").write("half")
    discard_outputs({"outputs": [e]})
    assert os.listdir(tmp_path) == []


def test_the_runner_removes_staging_files_of_a_killed_job(tmp_path):
    """A job killed at its timeout (or crashed) cannot clean up after itself: the runner does."""
    e = _entry(tmp_path)
    fake = tmp_path / "fakepython"
    fake.write_text("#!/bin/sh\nsleep 30\n")
    fake.chmod(0o755)
    open(e["staging"], "w").write("half")
    res = runner.run_job_process({"job_name": "sfjob-x", "outputs": [e]}, str(tmp_path / "w"), 1, python=str(fake))
    assert res["error_type"] == "JobTimeout"
    assert not os.path.exists(e["staging"]) and not os.path.exists(e["path"])


# ---------------------------------------------------------------- memory limit


def test_the_default_limit_shares_what_the_node_role_sized():
    # 16 GiB container, 5 GiB /dev/shm (Ray's object store), concurrency 2: (16384 - 5120 - 1024) / 2
    assert job_memory_default_mb(2, 16384, 5120) == 5120
    assert job_memory_default_mb(4, 8192, 3000) == JOB_MEMORY_MIN_MB  # never below the minimum
    assert job_memory_default_mb(2, None, 0) == JOB_MEMORY_MIN_MB


def test_the_limit_from_the_config_reaches_the_spec(data_dir):
    cfg = parse_config(base_config(data_dir, job_memory_limit_mb=4096))
    assert build_job_spec(cfg, "r", psi())["memory_limit_mb"] == 4096
    off = parse_config(base_config(data_dir, job_memory_limit_mb=0))
    assert build_job_spec(off, "r", psi())["memory_limit_mb"] == 0
    with pytest.raises(Exception, match=r"'job_memory_limit_mb'.*at least 512 MiB"):
        parse_config(base_config(data_dir, job_memory_limit_mb=100))


def test_a_job_beyond_its_limit_gets_memory_error():
    """RLIMIT_DATA in the job process: an allocation beyond it fails (MemoryError) instead of eating the server."""
    code = textwrap.dedent("""
        import json, sys
        from sfworker.job import apply_memory_limit
        limit = apply_memory_limit(600)
        small = bytearray(100 * 1024 * 1024)  # fits
        try:
            big = bytearray(1024 * 1024 * 1024)
            print(json.dumps({"limit": limit, "big": "allocated"}))
        except MemoryError:
            print(json.dumps({"limit": limit, "big": "MemoryError"}))
    """)
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout) == {"limit": 600 * 1024 * 1024, "big": "MemoryError"}


def test_no_limit_when_zero():
    assert apply_memory_limit(0) is None and apply_memory_limit(None) is None
