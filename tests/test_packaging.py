"""A non-editable install must carry every module and data file (themes' .tcss included)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sources(folder: str, pattern: str) -> set[str]:
    return {
        p.relative_to(ROOT / folder).as_posix() for p in (ROOT / folder).rglob(pattern) if "__pycache__" not in p.parts
    }


def test_wheel_contains_all_packages_and_stylesheets(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("inference_workbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, package in (
        ("workbench", "workbench"),
        ("engines", "workbench_engines"),
        ("themes", "workbench_themes"),
    ):
        for rel in _sources(folder, "*.py") | _sources(folder, "*.tcss"):
            assert f"{package}/{rel}" in names, f"{package}/{rel} missing from the wheel"
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "workbench = workbench.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
