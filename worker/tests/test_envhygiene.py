import os
import subprocess
import sys

import pytest

from sfworker.envhygiene import clean_child_env, is_ray_address_var, scrub_ray_env

from helpers import shared_table

# The ONE table of the RAY_*ADDRESS rule: the collection's unit tests check that the deployment plan refuses
# exactly these names in sf_worker_env; here the worker removes exactly them.
CASES = [tuple(case) for case in shared_table("ray_address_env")["cases"]]


@pytest.mark.parametrize("name,refused", CASES)
def test_rule(name, refused):
    assert is_ray_address_var(name) is refused


def test_scrub_removes_exactly_the_table_names():
    env = {name: f"value-{i}" for i, (name, _refused) in enumerate(CASES)}
    removed = scrub_ray_env(env)
    assert set(removed) == {name for name, refused in CASES if refused}
    assert set(env) == {name for name, refused in CASES if not refused}
    assert all(removed[name].startswith("value-") for name in removed)


def test_clean_child_env(monkeypatch):
    for name, _refused in CASES:
        monkeypatch.setenv(name, "1.2.3.4:6379")
    env = clean_child_env({"A": "b"})
    assert env["A"] == "b"
    assert {name for name, _refused in CASES} - set(env) == {name for name, refused in CASES if refused}


def test_scrubbed_before_ray_is_imported():
    """The job process scrubs first thing; the rule's module imports nothing but the standard library."""
    code = ("import sys, sfworker.envhygiene as e; e.scrub_ray_env(); import os; "
            "assert 'ray' not in sys.modules, 'ray imported'; print(sorted(k for k in os.environ if 'ADDR' in k))")
    env = {name: "x" for name, _refused in CASES}
    env["PATH"] = os.environ.get("PATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(sorted(n for n, refused in CASES if not refused and "ADDR" in n))
