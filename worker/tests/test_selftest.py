"""sfworker.selftest (#14): every registered task type declares its SecretFlow modules and they import."""

import json
import subprocess
import sys

from sfworker.selftest import check_type, format_report
from sfworker.tasks.registry import TaskType, known_task_types


class _Base(TaskType):
    def validate(self, task_config, ctx):
        return {}, []

    def run(self, cfg, rt):
        return {}


class Undeclared(_Base):
    pass


class Declared(_Base):
    sf_modules = ("json", "os.path")


class Broken(_Base):
    sf_modules = ("json", "secretflow.no_such_module")


class NotATuple(_Base):
    sf_modules = "secretflow.stats"


class Nothing(_Base):
    sf_modules = ()


def importer(name):
    if "no_such" in name:
        raise ModuleNotFoundError(f"No module named {name!r}")
    return name


def test_a_type_without_sf_modules_fails():
    r = check_type("x", Undeclared(), importer)
    assert r["ok"] is False and r["modules"] == {}
    assert r["error"] == ("test_selftest.Undeclared does not declare sf_modules (the SecretFlow modules its run() "
                          "imports; () if none)")


def test_declared_modules_are_imported():
    seen = []
    r = check_type("x", Declared(), lambda m: seen.append(m))
    assert r["ok"] is True and r["modules"] == {"json": "ok", "os.path": "ok"} and seen == ["json", "os.path"]
    assert check_type("n", Nothing(), importer)["ok"] is True


def test_a_module_that_does_not_import_fails_and_is_named():
    r = check_type("x", Broken(), importer)
    assert r["ok"] is False
    assert r["modules"] == {"json": "ok",
                            "secretflow.no_such_module": "ModuleNotFoundError: No module named 'secretflow.no_such_module'"}
    text = format_report({"ok": False, "types": [r, check_type("n", Nothing(), importer)]})
    assert text.splitlines() == [
        "FAIL x: json, secretflow.no_such_module FAILED (ModuleNotFoundError: No module named "
        "'secretflow.no_such_module')",
        "ok   n: no module",
        "sfworker self-test: FAILED: 1 of 2 task types: x",
    ]


def test_sf_modules_must_be_a_tuple_of_module_names():
    r = check_type("x", NotATuple(), importer)
    assert r["ok"] is False and r["error"] == "sf_modules must be a tuple of dotted module names, got 'secretflow.stats'"


def test_the_installed_worker_passes_and_covers_every_registered_type():
    """The real run (what the image build runs): every registered type declares modules that import here."""
    cp = subprocess.run([sys.executable, "-m", "sfworker.cli", "selftest", "--json"], capture_output=True, text=True,
                        timeout=600)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    report = json.loads(cp.stdout)
    assert report["ok"] is True
    assert [t["type"] for t in report["types"]] == known_task_types()
    assert all(t["ok"] for t in report["types"])
    by_type = {t["type"]: t for t in report["types"]}
    assert by_type["psi"]["modules"] == {"secretflow.device.device.spu": "ok"}


def test_an_undeclared_type_fails_the_command():
    code = ("import sys; from sfworker.tasks.registry import TaskType, register_task\n"
            "@register_task('undeclared_test')\n"
            "class U(TaskType):\n"
            "    def validate(self, c, ctx): return {}, []\n"
            "    def run(self, c, rt): return {}\n"
            "from sfworker.selftest import main; sys.exit(main())\n")
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "FAIL undeclared_test: __main__.U does not declare sf_modules" in cp.stdout
    assert "sfworker self-test: FAILED: 1 of" in cp.stdout and ": undeclared_test" in cp.stdout
