"""Exit codes and refusals a user can act on: the one command wrapper (every command goes through it; the only
SystemExit in paperlib/); an unknown or unavailable method is refused before any work (grid, pipeline); a mask-free
pool is refused up front by the notebook that needs its masks; every exit code of docs/commands.md's table, once."""

# ruff: noqa: I001
import paperlib  # noqa: F401  (first: it pins the float kernels before numpy and torch load)
import ast
import re
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paperlib.cli import al as al_cli
from paperlib.cli import grid as grid_cli
from paperlib.cli import main as main_cli
from paperlib.cli import pipeline as pipeline_cli
from paperlib.signals import Interrupted

ROOT = Path(__file__).resolve().parents[1]
CAMS_LINE = "pip install 'paperlib[cams]'"


@pytest.fixture
def no_work(monkeypatch):
    """The grid's and the pipeline's runners fail the test if called: a refusal comes before any work."""

    def started(*args, **kwargs):
        raise AssertionError("work started before the refusal")

    monkeypatch.setattr(grid_cli, "run", started)
    monkeypatch.setattr(pipeline_cli, "run", started)
    monkeypatch.delenv("PAPERLIB_DEBUG", raising=False)


@pytest.fixture
def without_cams(monkeypatch):
    """As if the 'cams' extra (the grad-cam package) were not installed."""
    monkeypatch.setitem(sys.modules, "pytorch_grad_cam", None)  # import raises ImportError


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_grid_refuses_an_unavailable_cam_method_before_any_work(tmp_path: Path, capsys, no_work, without_cams):
    code = grid_cli.main(["--profile", "smoke", "--methods", "WSL,GradCAM", "--results", str(tmp_path)])
    line = _one_line(capsys.readouterr().err)
    assert code == 2, line
    assert line.startswith("error: GradCAM needs the 'cams' extra") and CAMS_LINE in line
    assert not any(tmp_path.iterdir())


def test_pipeline_refuses_unknown_and_unavailable_methods_before_any_notebook(tmp_path: Path, capsys, no_work,
                                                                              without_cams):
    args = ["--profile", "smoke", "--only", "04", "--results", str(tmp_path), "--figures", str(tmp_path)]
    assert pipeline_cli.main([*args, "--methods", "Random,Foo"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("error: unknown method 'Foo'; known: WSL, ")
    assert pipeline_cli.main([*args, "--methods", "Random, XGradCAM,GradCAM++"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("error: XGradCAM, GradCAM++ need the 'cams' extra") and CAMS_LINE in line
    assert not any(tmp_path.iterdir())


def _mask_free_pool(folder: Path) -> Path:
    """A tiny dataset file: two classes, training images without masks, validation and test images with them."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    rows = ["image,mask,label,split"]
    for split, n in (("train", 3), ("valid", 1), ("test", 1)):
        for label in ("a", "b"):
            for i in range(n):
                name = f"{split}_{label}{i}"
                Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(folder / f"{name}.png")
                mask = ""
                if split != "train":
                    Image.fromarray(np.uint8(rng.random((24, 24)) > 0.5) * 255).save(folder / f"{name}_mask.png")
                    mask = f"{name}_mask.png"
                rows.append(f"{name}.png,{mask},{label},{split}")
    (folder / "dataset.csv").write_text("\n".join(rows) + "\n")
    return folder / "dataset.csv"


def test_pipeline_refuses_notebook_04_on_a_mask_free_pool_and_names_what_runs(tmp_path: Path, capsys, no_work):
    """04's sessions use the simulated oracle: on a dataset file whose training images have no masks the pipeline
    stops before any notebook runs (it used to fail inside the kernel, exit code 1) and names what runs instead."""
    pool = _mask_free_pool(tmp_path / "my_lab")
    code = pipeline_cli.main(["--profile", "smoke", "--only", "04", "--dataset", "csv", "-p", "data_root", str(pool),
                              "--results", str(tmp_path / "results"), "--figures", str(tmp_path / "figures")])
    line = _one_line(capsys.readouterr().err)
    assert code == 2, line
    assert "the simulated oracle needs the true mask of every training image" in line and "6 of 6 have no" in line
    assert "04_active_learning runs its sessions with it" in line
    assert "07_annotate" in line and "docs/own-data.md" in line
    assert not (tmp_path / "results").exists()


def _documented_codes() -> dict[int, str]:
    page = (ROOT / "docs" / "commands.md").read_text()
    table = page.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(m[1]): m[2] for m in re.finditer(r"^\| (\d+) \| (.+?) \|$", table, flags=re.M)}


def test_every_documented_exit_code_once(tmp_path: Path, capsys, monkeypatch):
    """Each code of docs/commands.md's table from a command that should give it (cheap cases: no training)."""
    import nbformat

    documented = _documented_codes()
    assert {0, 1, 2, 3} <= set(documented), documented
    monkeypatch.delenv("PAPERLIB_DEBUG", raising=False)
    results = ["--results", str(tmp_path / "results"), "--figures", str(tmp_path / "figures")]

    assert main_cli.main(["--version"]) == 0  # 0: done

    # 1: a notebook failed (pipeline)
    folder = tmp_path / "notebooks"
    folder.mkdir()
    params = nbformat.v4.new_code_cell('profile = "smoke"')
    params.metadata["tags"] = ["parameters"]
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    failing = nbformat.v4.new_code_cell("raise ValueError('no such slide')")
    nbformat.write(nbformat.v4.new_notebook(cells=[params, failing], metadata=kernel), folder / "01_fails.ipynb")
    assert main_cli.main(["pipeline", "--profile", "smoke", "--notebooks", str(folder), *results]) == 1
    assert "01_fails.ipynb failed at" in capsys.readouterr().err

    # 2: bad input, from every command that reads it (the pipeline's own checks answered 1 before)
    results = ["--results", str(tmp_path / "bad"), "--figures", str(tmp_path / "bad")]
    bad = {"pipeline --only 99": ["pipeline", "--profile", "smoke", "--only", "99", *results],
           "pipeline --dataset without --only": ["pipeline", "--profile", "smoke", "--dataset", "csv", *results],
           "pipeline unknown profile": ["pipeline", "--profile", "nope", *results],
           "grid unknown method": ["grid", "--profile", "smoke", "--methods", "Foo", "--results", str(tmp_path)],
           "al bad value": ["al", "--profile", "smoke", "-p", "lam", "-1", "--results", str(tmp_path)],
           "unknown command": ["nope"]}
    for case, argv in bad.items():
        assert main_cli.main(argv) == 2, case
        err = capsys.readouterr().err
        assert err.startswith("error: "), (case, err)
    assert not (tmp_path / "bad").exists()  # refused before any notebook ran

    # 3: a session waits for annotations (al): the status a folder-oracle session returns while masks are missing
    monkeypatch.setattr(al_cli, "run_session", lambda *a, **k: ("waiting", tmp_path / "run"))
    assert main_cli.main(["al", "--profile", "smoke", "--oracle", "folder", "--results", str(tmp_path)]) == 3
    assert "waiting for annotations" in capsys.readouterr().out

    # 130 and 143: interrupted (a plain Ctrl-C, or the signals as paperlib.signals raises them), one line each
    stops = ((KeyboardInterrupt(), 130), (Interrupted(signal.SIGINT), 130), (Interrupted(signal.SIGTERM), 143))
    for exc, code in stops:
        def stopped(*a, exc=exc, **k):
            raise exc

        monkeypatch.setattr(al_cli, "run_session", stopped)
        assert main_cli.main(["al", "--profile", "smoke", "--results", str(tmp_path)]) == code, exc
        line = _one_line(capsys.readouterr().err)
        assert re.fullmatch(r"interrupted: 0 round\(s\) finished in \S+seed_0; run the same command to resume", line)
    assert {130, 143} <= set(documented)


def _raises_system_exit(path: Path) -> list[int]:
    """The lines of ``path`` that name ``SystemExit`` in code (a raise, a call, an except)."""
    tree = ast.parse(path.read_text(), str(path))
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "SystemExit"]


def test_the_one_command_wrapper_is_the_only_system_exit():
    """No library code ends the interpreter: ``SystemExit`` is named in ``cli.launch`` alone."""
    found = {str(p.relative_to(ROOT)): lines for p in sorted((ROOT / "paperlib").rglob("*.py"))
             if (lines := _raises_system_exit(p))}
    assert list(found) == ["paperlib/cli/__init__.py"] and len(found["paperlib/cli/__init__.py"]) == 1, found


def test_every_route_goes_through_the_wrapper():
    """Each command's ``main`` is :func:`paperlib.cli.command`'s wrapper, the console scripts name those mains, and
    every ``python -m`` route is :func:`paperlib.cli.launch` of one."""
    import importlib
    import tomllib

    from paperlib.cli.main import COMMANDS

    for module, _ in COMMANDS.values():
        main = importlib.import_module(f"paperlib.cli.{module}").main
        assert getattr(main, "__wrapped__", None) is not None, module
    assert main_cli.main.__wrapped__ is not None
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert all(target.startswith("paperlib.cli.") and target.endswith(":main") for target in scripts.values())
    for path in sorted((ROOT / "paperlib").rglob("__main__.py")):
        text = path.read_text()
        assert re.search(r"^launch\(main\)$", text, flags=re.M) and "from ..cli import launch" in text or \
            "from .cli import launch" in text, path


def test_a_python_caller_gets_an_exception_it_can_catch(tmp_path: Path):
    """The pipeline's bad input is a ConfigError (a ValueError) to a Python caller, never an exit."""
    from paperlib import pipeline
    from paperlib.errors import ConfigError

    with pytest.raises(ConfigError, match=r"--only 99: no such notebook"):
        pipeline.run("smoke", only=["99"], results_dir=str(tmp_path))
    assert isinstance(ConfigError("x"), ValueError)
