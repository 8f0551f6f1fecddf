"""The TUI in a real terminal, driven as a person would: tmux at 80×24, keys sent with send-keys, the screen read
with capture-pane. A run is started with r; during it Tab moves into a Setup field and Esc leaves it — the run goes
on and finishes, and is saved (issue 19: Esc never stops a run).

tmux comes from the system (apt-get install tmux); as root on a machine with apt the test installs it, as the test
command does for the local Slurm cluster, otherwise it skips with one line saying what to install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest


def _tmux() -> str:
    found = shutil.which("tmux")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "tmux"],
            capture_output=True,
            timeout=300,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = shutil.which("tmux")
        if found:
            return found
    pytest.skip("the real-terminal test needs tmux: apt-get install tmux")


class Terminal:
    def __init__(self, tmux: str, name: str) -> None:
        self.tmux, self.name = tmux, name

    def send(self, *keys: str) -> None:
        subprocess.run([self.tmux, "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        out = subprocess.run([self.tmux, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return out.stdout

    def wait(self, predicate, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        text = self.screen()
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout:g} s; the screen was:\n{text}")


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_tab_into_a_field_then_escape_during_a_run_leaves_the_run_going(workbench_home, shared_cache):
    tmux = _tmux()
    cores = sorted(os.sched_getaffinity(0))
    setup = {  # the remembered setup the app starts from (what a previous session ran)
        "model": "tiny_cnn",
        "engines": ["onnxruntime"],
        "duration_s": 6.0,
        "warmup_s": 0.2,
        "cores": cores[-1:],
        "batch": 1,
    }
    (workbench_home / "config").mkdir()
    (workbench_home / "config" / "tui-setup.json").write_text(json.dumps(setup))
    name = f"wb-{uuid.uuid4().hex[:8]}"
    workbench = Path(sys.executable).with_name("workbench")
    env = {
        "WORKBENCH_HOME": str(workbench_home),
        "WORKBENCH_CACHE": str(shared_cache),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
    }
    command = " ".join([*(f"{k}={v!r}" for k, v in env.items()), str(workbench), "ui"])
    subprocess.run([tmux, "new-session", "-d", "-s", name, "-x", "80", "-y", "24", f"env {command}"], check=True)
    term = Terminal(tmux, name)
    try:
        term.wait(lambda s: "Hardware" in s and "onnxruntime" in s, 60)
        term.send("r")
        term.wait(lambda s: "measuring" in s and "ETA" in s, 120)
        term.send("2")  # Setup, during the run
        term.wait(lambda s: "Setup" in s and "Engines" in s, 10)
        term.send("Tab")  # into the model-file field
        text = term.wait(lambda s: "Leave field" in s, 10)  # the footer shows the keys that work in a field
        assert " r Run" not in text  # ... and not the letters, which are text now
        term.send("Escape")
        term.wait(lambda s: " r Run" in s or "Run" in s.splitlines()[-1], 10)
        term.send("Escape")  # a second Esc with no field focused does nothing either
        term.send("3")
        screen = term.wait(lambda s: "Live" in s, 10)
        assert "stopped" not in screen
        done = term.wait(lambda s: "saved to the history" in s or "finished" in s, 90)
        assert "stopped" not in done
    finally:
        subprocess.run([tmux, "kill-session", "-t", name], capture_output=True)
    from workbench.store.history import HistoryStore

    runs = HistoryStore().list(limit=None)
    assert len(runs) == 1 and runs[0].result("onnxruntime").ok
