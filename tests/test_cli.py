"""Packaging a user expects: the licence, console commands, and expected failures as one line (or a traceback
under --debug)."""

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

from paperlib import bits
from paperlib.cli import al, pipeline, predict
from paperlib.config import ConfigError
from paperlib.errors import DataError, NotebookFailed

ROOT = Path(__file__).resolve().parents[1]
INSTALLED = importlib.metadata.distribution("paperlib")  # make test installs the project into its venv
COMMANDS = {e.name: e.value for e in INSTALLED.entry_points if e.group == "console_scripts"}


def test_license_file_matches_the_declared_licence():
    assert INSTALLED.metadata["License-Expression"] == "MIT" and INSTALLED.metadata.get_all("License-File") == [
        "LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_every_command_has_a_console_command():
    assert set(COMMANDS) == {"paperlib-al", "paperlib-baseline", "paperlib-grid", "paperlib-pipeline",
                             "paperlib-predict", "paperlib-paper-size"}


@pytest.mark.slow
def test_console_commands_are_installed_and_answer():
    """Every console command is installed and prints its usage (the commands run side by side: each imports
    torch)."""
    running = {}
    for name, target in sorted(COMMANDS.items()):
        module, _, func = target.partition(":")
        assert callable(getattr(__import__(module, fromlist=[func]), func)), name
        exe = Path(sys.executable).parent / name
        assert exe.is_file(), f"{exe}: not installed (pip install -e . creates it)"
        running[name] = subprocess.Popen([str(exe), "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True)
    for name, proc in running.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "usage:" in out, (name, err)


def test_expected_failures_are_one_line_unless_debug(tmp_path: Path, capsys, monkeypatch):
    argv = ["--profile", "smoke", "-p", "lam", "-1", "--results", str(tmp_path / "r")]
    monkeypatch.delenv("PAPERLIB_DEBUG", raising=False)
    assert al.main(argv) == 2
    err = capsys.readouterr().err
    assert err == "error: config field 'lam' must be >= 0\n"
    with pytest.raises(ConfigError, match="'lam' must be >= 0"):
        al.main([*argv, "--debug"])
    monkeypatch.setenv("PAPERLIB_DEBUG", "1")
    with pytest.raises(ConfigError):
        al.main(argv)
    monkeypatch.setenv("PAPERLIB_DEBUG", "0")
    assert al.main(argv) == 2
    assert predict.main(["--run", str(tmp_path / "none"), "--export", str(tmp_path / "m.pt")]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_pipeline_without_notebooks_says_where_they_are(tmp_path: Path, capsys):
    assert pipeline.main(["--profile", "smoke", "--notebooks", str(tmp_path), "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tmp_path) in err[0] and "checkout" in err[0] and "--notebooks" in err[0]


@pytest.mark.slow
def test_pipeline_runs_on_a_named_kernel_and_refuses_an_unknown_one(tmp_path: Path, capsys):
    args = ["--profile", "smoke", "--only", "01", "--results", str(tmp_path / "results"), "--figures",
            str(tmp_path / "figures")]
    assert pipeline.main([*args, "--kernel", "no-such-kernel"]) == 2
    err = capsys.readouterr().err
    assert "unknown Jupyter kernel 'no-such-kernel'" in err and "python3" in err and "ipykernel install" in err
    assert not (tmp_path / "results").exists()  # refused before any notebook ran
    assert pipeline.main([*args, "--kernel", "python3"]) == 0
    from paperlib.pipeline.runner import revision_line

    out = capsys.readouterr().out.splitlines()  # live: a line per notebook, per cell, and the kernel's output
    assert out[0] == bits.describe() and out[1] == revision_line()  # which kernels, which code
    assert out[2] == "[1/1] 01_data.ipynb"
    cells = [re.fullmatch(r"  \[\d+:\d\d\] cell (\d+)/(\d+): .+", ln) for ln in out]
    cells = [(int(m[1]), int(m[2])) for m in cells if m]
    assert cells and cells == [(n, cells[0][1]) for n in range(1, cells[0][1] + 1)]
    assert any(ln.startswith("      profile smoke: ") and "computes on " in ln for ln in out)
    assert not any("Kernel is running over TCP" in ln for ln in out)
    executed = (tmp_path / "results" / "smoke" / "executed" / "01_data.ipynb").read_text()
    assert "computes on " in executed and ", torch " in executed  # the first output names the kernel's device
    assert bits.describe() in executed  # the notebook's first cell says which float kernels its kernel computes with


@pytest.mark.slow
def test_pipeline_relays_a_child_process_line_once_and_names_a_failing_cell(tmp_path: Path, capsys, monkeypatch):
    """Output a cell's child process writes to the kernel's file descriptors (as grid worker processes do) is
    relayed once, not also from the kernel's own stderr; a failing cell stops the run with the cell, the error and
    the kernel's log named."""
    import nbformat

    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # under pytest ipykernel forwards no file-descriptor output

    folder = tmp_path / "notebooks"
    folder.mkdir()
    params = nbformat.v4.new_code_cell('profile = "smoke"')
    params.metadata["tags"] = ["parameters"]
    # ipykernel forwards file-descriptor output from a thread: a cell that ends at once may end before it arrives
    child = nbformat.v4.new_code_cell("import subprocess, sys, time\n"
                                      "subprocess.run([sys.executable, '-c', 'print(\"from a child process\")'])\n"
                                      "time.sleep(1)")
    failing = nbformat.v4.new_code_cell("raise ValueError('no such slide')")
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    for name, cell in (("01_child", child), ("02_fails", failing)):
        nbformat.write(nbformat.v4.new_notebook(cells=[params, cell], metadata=kernel), folder / f"{name}.ipynb")
    with pytest.raises(NotebookFailed) as stop:
        pipeline.run("smoke", results_dir=str(tmp_path / "results"), figures_dir=str(tmp_path / "figures"),
                     folder=folder)
    out = capsys.readouterr().out.splitlines()
    assert out.count("      from a child process") == 1
    message = str(stop.value)
    log = tmp_path / "results" / "smoke" / "executed" / "02_fails.kernel.log"
    assert "02_fails.ipynb failed at" in message and "no such slide" in message and str(log) in message
    assert log.is_file() and "Kernel is running over TCP" in log.read_text()  # the kernel's own noise, kept aside


def test_only_paperlib_errors_are_bad_input(tmp_path: Path, capsys, monkeypatch):
    """A PaperlibError is one line and exit code 2; any other error is a bug and keeps its traceback."""
    argv = ["--profile", "smoke", "--results", str(tmp_path / "r")]
    monkeypatch.delenv("PAPERLIB_DEBUG", raising=False)

    def broken(*args, **kwargs):
        raise RuntimeError("a shape mismatch deep in torch")

    monkeypatch.setattr(al, "run_session", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        al.main(argv)

    def refused(*args, **kwargs):
        raise DataError("x.png: not an image")

    monkeypatch.setattr(al, "run_session", refused)
    assert al.main(argv) == 2
    assert capsys.readouterr().err == "error: x.png: not an image\n"
