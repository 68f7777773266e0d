"""The reproducibility setting (paperlib.bits): the committed bits of a few training steps, the setting reaching
every process, and the record of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from paperlib import bits, store
from paperlib.store import RunFolder

PROBE = Path(__file__).with_name("bits_probe.py")


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter whose environment has no pins (the setting from ``env``)."""
    clean = {k: v for k, v in os.environ.items() if k not in bits.PINS and k != bits.SETTING_ENV}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.skipif(not bits.has_avx2(), reason="the pins need an x86-64 CPU with AVX2")
def test_a_few_training_steps_give_the_committed_bits_on_this_cpu():
    """Builds the demo's model and data as the package does, trains and evaluates a little under the setting, and
    compares the hashes with the committed ones: the check that the same bits come out on every x86-64 CPU."""
    env = bits.environment({**os.environ, bits.SETTING_ENV: bits.PINNED})
    run = subprocess.run([sys.executable, str(PROBE)], env=env, capture_output=True, text=True, timeout=900,
                         check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    found = json.loads(run.stdout)
    committed = json.loads(PROBE.with_name("bits_hash.json").read_text())
    m = found["machine"]
    differ = [k for k in committed if found["hashes"].get(k) != committed[k]]
    assert not differ, (
        f"the pinned float kernels gave other bits on this machine in {differ} (first stage that differs: "
        f"{differ[0]}).\n  CPU: {m['cpu']} ({m['cpu_vendor']}), torch kernels {m['cpu_capability']}, "
        f"{m['threads']} thread(s)\n  torch {m['torch']}, MKL {m['mkl']}, oneDNN {m['onednn']}, numpy {m['numpy']}, "
        f"Python {m['python']}, {m['os']}\n  pins in force: {m['bits']['variables']}\n"
        "If a dependency was upgraded (torch, numpy, the OS image), not the CPU, the new value is expected: write it "
        "with `python tests/bits_probe.py --write`, regenerate figures/demo/ (make reproduce) and commit both. If "
        "only the CPU differs, this CPU breaks the promise in docs/reproducibility.md: report it with this message.")


def test_importing_paperlib_first_pins_the_kernels_torch_and_numpy_load_with():
    run = _python("import paperlib, os, torch, numpy; from paperlib import bits; "
                  "print(torch.get_num_threads(), torch.backends.cpu.get_cpu_capability(), os.environ['MKL_CBWR'], "
                  "bits.status()['pinned'])")
    assert run.returncode == 0, run.stderr
    if bits.has_avx2():
        assert run.stdout.split() == [str(bits.THREADS), "AVX2", "COMPATIBLE", "True"]
    assert "BitsWarning" not in run.stderr


def test_native_leaves_the_machine_alone():
    run = _python("import paperlib, os; from paperlib import bits; "
                  "print('MKL_CBWR' in os.environ, bits.status()['pinned'], bits.describe())",
                  PAPERLIB_BITS="native")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("False False float kernels native")


def test_a_process_that_loaded_numpy_first_says_so_once_and_records_it():
    run = _python("import numpy, warnings; import paperlib; from paperlib import bits; import paperlib.bits; "
                  "bits.apply(); s = bits.status(); print(s['pinned'], s['late'], bits.describe(s))")
    assert run.returncode == 0
    assert run.stderr.count("BitsWarning") == 1 and "numpy was imported before paperlib" in run.stderr
    if bits.has_avx2():
        assert run.stdout.startswith("False ['numpy'] float kernels NOT pinned (numpy loaded before paperlib)")


def test_an_unknown_setting_warns_naming_the_variable_and_stays_pinned():
    run = _python("import paperlib; from paperlib import bits; print(bits.status()['setting'])",
                  PAPERLIB_BITS="fast")
    assert run.returncode == 0 and run.stdout.strip() == "pinned"
    assert "PAPERLIB_BITS='fast' is neither pinned nor native" in run.stderr


def test_export_lines_carry_the_setting_to_a_shell():
    env = {k: v for k, v in os.environ.items() if k not in bits.PINS}
    out = subprocess.run(["bash", "-c", 'eval "$(python -m paperlib bits --export)" && python -c '
                          '"import paperlib, os; from paperlib import bits; print(bits.status()[\'pinned\'])"'],
                         env={**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(bits.has_avx2())


def test_the_machine_record_names_the_setting_cpu_and_libraries():
    m = store.machine()
    assert {"cpu", "cpu_vendor", "cpu_capability", "threads", "torch", "mkl", "onednn", "numpy"} <= set(m)
    assert m["bits"]["setting"] in bits.SETTINGS and isinstance(m["bits"]["variables"], dict)


def test_a_session_resumed_under_other_bits_says_so_in_its_log_and_resumes(tmp_path: Path, capsys):
    folder = RunFolder(tmp_path / "run")
    meta = {"method": "Random", "seed": 0, "config": {"x": 1}}
    folder.prepare(meta)
    made = json.loads((tmp_path / "run" / "config.json").read_text())
    assert made["machine"]["bits"] == store.machine()["bits"]
    folder.prepare(meta)  # same bits: nothing to say
    assert not (tmp_path / "run" / "log.txt").exists()
    made["machine"] = {**made["machine"], "torch": "1.0", "bits": {"pinned": False, "variables": {}}}
    (tmp_path / "run" / "config.json").write_text(json.dumps(made))
    folder.prepare(meta)  # resumes: no error
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "resumed under other bits" in log and "torch 1.0" in log
    shown = capsys.readouterr()
    assert "resumed under other bits" in shown.out + shown.err


def test_same_bits_compares_the_cpu_only_when_a_record_is_not_pinned():
    m = store.machine()
    other_cpu = {**m, "cpu": "another CPU", "cpu_capability": "AVX512"}
    assert store.same_bits(m, m)
    assert store.same_bits(m, other_cpu) == bool(m["bits"]["pinned"])
    assert not store.same_bits(m, {**m, "numpy": "0.0"})


def test_a_classifier_trained_under_other_bits_is_reused_with_a_note(tmp_path: Path, capsys):
    from paperlib import config
    from paperlib.engine import classifier

    cfg = config.get("smoke", dataset="glas")
    path = classifier.classifier_path(tmp_path, cfg)
    path.parent.mkdir(parents=True)
    state = {"w": torch.ones(2)}
    other = {**store.machine(), "numpy": "0.0"}
    store.save_tensors(path, {"state": state, "fingerprint": classifier._fingerprint(cfg, 0), "machine": other})
    for _ in range(2):
        assert torch.equal(classifier.classifier_stage(cfg, None, tmp_path)["w"], state["w"])
    shown = capsys.readouterr()
    assert (shown.out + shown.err).count("was trained under other bits") == 1
    store.save_tensors(path, {"state": state, "fingerprint": classifier._fingerprint(cfg, 0),
                              "machine": store.machine()})
    classifier._noted.clear()
    classifier.classifier_stage(cfg, None, tmp_path)
    shown = capsys.readouterr()
    assert "other bits" not in shown.out + shown.err
