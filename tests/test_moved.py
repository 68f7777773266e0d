"""The flat 0.1 module paths keep working for one release (warning with the new path), the public contract's names
stay without a warning, and every command answers at its old and new spelling."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from paperlib import _moved


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "always::FutureWarning", "-c", code], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("old", sorted(_moved.MOVED))
def test_every_old_path_holds_the_names_of_its_new_modules(old: str):
    module = importlib.import_module(f"paperlib.{old}")
    for new in _moved.MOVED[old]:
        target = importlib.import_module(f"paperlib.{new}")
        public = [k for k in vars(target) if not k.startswith("_")]
        assert public and all(getattr(module, k) is getattr(target, k) for k in public), (old, new)


@pytest.mark.slow
def test_an_old_path_warns_once_with_the_new_one_and_is_the_same_module():
    proc = _python("import paperlib.learner, paperlib.engine.learner as new\n"
                   "from paperlib.learner import Learner\n"
                   "assert paperlib.learner is new and Learner is new.Learner\n"
                   "from paperlib.baseline import classifier_stage, wsl_round\n"
                   "from paperlib.metrics import dice_auc\nfrom paperlib.similarity import jsd, select_pseudo\n"
                   "from paperlib.data import load_glas, load_cub\n")
    assert proc.returncode == 0, proc.stderr
    warned = [ln for ln in proc.stderr.splitlines() if "FutureWarning" in ln]
    assert len(warned) == 2, proc.stderr
    assert "paperlib.learner moved to paperlib.engine.learner" in warned[0]
    assert "paperlib.baseline moved to paperlib.engine.classifier and paperlib.al.baselines" in warned[1]


def test_tools_that_left_the_library_say_where_they_are():
    with pytest.raises(ImportError, match=r"benchmarks/bench\.py"):
        importlib.import_module("paperlib.bench")
    proc = subprocess.run([sys.executable, "-m", "paperlib.lab_harness"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "tests.browser.lab_harness" in proc.stderr


@pytest.mark.parametrize("argv", [["-m", "paperlib.baseline", "--help"], ["-m", "paperlib.predict", "--help"],
                                  ["-m", "paperlib.paper_size", "--help"]])
@pytest.mark.slow
def test_old_command_paths_run_the_command_after_a_warning(argv: list[str]):
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120)
    new = _moved.COMMANDS[argv[1].removeprefix("paperlib.")]
    assert proc.returncode == 0 and f"usage: python -m paperlib {new}" in proc.stdout, proc.stderr
    assert f"is now python -m paperlib {new}" in proc.stderr


@pytest.mark.slow
def test_one_entry_point_with_every_command_and_the_version():
    from paperlib import __version__
    from paperlib.cli.main import COMMANDS

    proc = subprocess.run([sys.executable, "-m", "paperlib", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == f"paperlib {__version__}\n"
    running = {name: subprocess.Popen([sys.executable, "-m", "paperlib", name, "--help"], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for name in COMMANDS}
    for name, proc in running.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "usage:" in out, (name, err)
    proc = subprocess.run([sys.executable, "-m", "paperlib", "nope"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown command 'nope'" in proc.stderr and "paper-size" in proc.stderr
