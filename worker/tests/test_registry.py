import pytest

from sfworker.errors import ParamsError
from sfworker.tasks import registry
from sfworker.tasks.registry import TaskType, get_task_type, known_task_types, register_task


def test_builtin_types():
    assert {"psi", "secure_sum"} <= set(known_task_types())
    assert get_task_type("psi").name == "psi"


def test_unknown_type_lists_known():
    with pytest.raises(ParamsError, match=r"unknown task type 'nope'.*psi.*secure_sum"):
        get_task_type("nope")
    with pytest.raises(ParamsError, match="unknown task type"):
        get_task_type(None)


def test_register_new_type_one_decorator(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register_task("echo_test")
    class Echo(TaskType):
        needs_spu = False

        def validate(self, task_config, ctx):
            return {"v": task_config.get("v")}, [ctx.self_party]

        def run(self, cfg, rt):
            return {"echo": cfg["v"]}

    t = get_task_type("echo_test")
    assert isinstance(t, Echo) and t.name == "echo_test"
    assert "echo_test" in known_task_types()


def test_duplicate_registration_rejected(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    with pytest.raises(ValueError, match="registered twice"):
        @register_task("psi")
        class Other(TaskType):
            def validate(self, task_config, ctx):
                return {}, []

            def run(self, cfg, rt):
                return {}


def test_task_modules_import_without_secretflow():
    import subprocess
    import sys

    code = ("import sys, sfworker.tasks.registry as r, sfworker.params, sfworker.execute, sfworker.celery_app, "
            "sfworker.cli, sfworker.submit; r.load_task_modules(); "
            "bad=[m for m in sys.modules if m.split('.')[0] in ('secretflow','ray','fed','spu','jax')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stdout + cp.stderr
