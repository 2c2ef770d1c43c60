import os

import pytest

from sfworker.errors import ParamsError
from sfworker.paths import resolve_input, resolve_output


def test_relative_and_absolute_inside(data_dir):
    assert resolve_input(data_dir, "alice.csv", "x") == os.path.join(os.path.realpath(data_dir), "alice.csv")
    assert resolve_input(data_dir, os.path.join(data_dir, "alice.csv"), "x").endswith("/alice.csv")


def test_output_creates_parent(data_dir):
    out = resolve_output(data_dir, "out/sub/r.csv", "o")
    assert os.path.isdir(os.path.dirname(out)) and out.startswith(os.path.realpath(data_dir))


@pytest.mark.parametrize("path", ["../escape.csv", "/etc/passwd", "sub/../../x.csv", "."])
def test_outside_rejected(data_dir, path):
    with pytest.raises(ParamsError, match="outside the data directory"):
        resolve_input(data_dir, path, "task_config.input_paths.alice")
    with pytest.raises(ParamsError, match="outside the data directory"):
        resolve_output(data_dir, path, "task_config.output_paths.alice")


def test_symlink_escape(data_dir, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    os.symlink(secret, os.path.join(data_dir, "link.csv"))
    with pytest.raises(ParamsError, match="outside the data directory"):
        resolve_input(data_dir, "link.csv", "x")


def test_prefix_sibling_is_outside(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    sib = tmp_path / "data2"
    sib.mkdir()
    (sib / "f.csv").write_text("a\n")
    with pytest.raises(ParamsError, match="outside"):
        resolve_input(str(d), str(sib / "f.csv"), "x")


@pytest.mark.parametrize("bad", [None, "", "  ", 5, ["a"], "a\x00b"])
def test_bad_values(data_dir, bad):
    with pytest.raises(ParamsError):
        resolve_input(data_dir, bad, "x")


def test_missing_input(data_dir):
    with pytest.raises(ParamsError, match="does not exist"):
        resolve_input(data_dir, "nope.csv", "x")


def test_output_is_dir(data_dir):
    os.mkdir(os.path.join(data_dir, "d"))
    with pytest.raises(ParamsError, match="is a directory"):
        resolve_output(data_dir, "d", "x")
