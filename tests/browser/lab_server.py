"""A throwaway JupyterLab server for real-browser tests and screenshots (:mod:`tests.browser.lab_harness` drives it).

It listens on 127.0.0.1 on a free port with a random token, and gets fresh config, data, settings, workspaces,
runtime and IPython folders, so the user's own JupyterLab is neither read nor touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# env var -> sub-folder of the server's temporary home
FRESH_DIRS = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
              "JUPYTERLAB_SETTINGS_DIR": "settings", "JUPYTERLAB_WORKSPACES_DIR": "workspaces", "IPYTHONDIR": "ipython"}
# every cell in the DOM (no virtual scrolling), no news or update prompts over the notebook
SETTINGS = {"@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
            "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab server: its root folder, base URL, token, process and temporary home."""

    root: Path
    url: str
    token: str
    process: subprocess.Popen
    home: Path

    def api(self, path: str, method: str = "GET") -> Any:
        """A call to the server's REST API (``path`` after ``/api/``); the JSON answer, ``None`` when empty."""
        req = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def relative(self, notebook: str | Path) -> str:
        """A notebook's path relative to the server's root (as JupyterLab names it)."""
        path = Path(notebook)
        return (path.resolve().relative_to(self.root) if path.is_absolute() else path).as_posix()

    def notebook_url(self, notebook: str | Path) -> str:
        return f"{self.url}/lab/tree/{urllib.request.quote(self.relative(notebook))}?token={self.token}"

    def kernel_state(self, notebook: str | Path) -> str | None:
        """The execution state of the notebook's kernel (``starting``, ``idle``, ``busy``), ``None`` without one."""
        rel = self.relative(notebook)
        for session in self.api("sessions"):
            if session["path"] == rel and session.get("kernel"):
                return session["kernel"]["execution_state"]
        return None

    def log(self) -> str:
        """What the server has printed so far."""
        return (self.home / "server.log").read_text(errors="replace")


def start_lab(root_dir: str | Path, *, timeout: float = 60.0) -> Lab:
    """Start JupyterLab serving ``root_dir`` and wait until it answers (:func:`stop_lab` ends it)."""
    root = Path(root_dir).resolve()
    home = Path(tempfile.mkdtemp(prefix="paperlib-lab-"))
    env = {**os.environ, **{var: str(home / sub) for var, sub in FRESH_DIRS.items()}}
    env.pop("JUPYTER_PREFER_ENV_PATH", None)
    for plugin, values in SETTINGS.items():
        path = home / "settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           f"--FileCheckpoints.checkpoint_dir={home / 'checkpoints'}", "--ContentsManager.allow_hidden=True",
           "--LabApp.extension_manager=readonly", "--LabApp.news_url=",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    with open(home / "server.log", "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=root, start_new_session=True)
    lab = Lab(root, f"http://127.0.0.1:{port}", token, proc, home)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            log_text = lab.log()
            shutil.rmtree(home, ignore_errors=True)
            raise RuntimeError(f"JupyterLab exited with code {proc.returncode}:\n{log_text[-3000:]}")
        with contextlib.suppress(OSError, ValueError):
            lab.api("status")
            return lab
        if time.monotonic() > deadline:
            stop_lab(lab)
            raise TimeoutError(f"JupyterLab did not answer on {lab.url} within {timeout:.0f} s")
        time.sleep(0.25)


def stop_lab(lab: Lab, timeout: float = 30.0) -> None:
    """Shut the server down (its kernels with it) through its API, terminating it if it does not exit; remove its
    temporary home."""
    try:
        if lab.process.poll() is None:
            with contextlib.suppress(OSError, urllib.error.URLError):
                lab.api("shutdown", method="POST")
            try:
                lab.process.wait(timeout)
            except subprocess.TimeoutExpired:
                lab.process.terminate()
                try:
                    lab.process.wait(10)
                except subprocess.TimeoutExpired:
                    lab.process.kill()
                    lab.process.wait()
    finally:
        shutil.rmtree(lab.home, ignore_errors=True)


@contextlib.contextmanager
def jupyter_lab(root_dir: str | Path, *, timeout: float = 60.0) -> Iterator[Lab]:
    """A JupyterLab server for the ``with`` block (:func:`start_lab`, :func:`stop_lab`)."""
    lab = start_lab(root_dir, timeout=timeout)
    try:
        yield lab
    finally:
        stop_lab(lab)
