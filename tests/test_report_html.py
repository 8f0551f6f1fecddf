"""``workbench report RUN --html FILE``: the self-contained HTML report (workbench.report.html, workbench.cli.report).

Runs here are test fixtures built from seeded synthetic samples — never presented as measurements.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from functools import partial
from html.parser import HTMLParser
from pathlib import Path

import cli_helpers
import pytest
from test_export import record, result

from workbench.report.export import write
from workbench.report.html import bar_chart_svg, histogram_svg, render_html
from workbench.store.history import HistoryStore

SVG = re.compile(r"<svg\b.*?</svg>", re.S)


def _svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(block) for block in SVG.findall(page)]  # each one parses as XML


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    p = _Tags()
    p.feed(page)
    return p.tags


def test_one_self_contained_document_with_a_histogram_per_engine():
    rec = record(1)
    page = render_html(rec)
    assert page.startswith("<!DOCTYPE html>") and page.count("<html") == 1 and page.rstrip().endswith("</html>")
    tags = _tags(page)
    assert not [a for t, a in tags if t == "script"]  # no scripts at all, so no <script src>
    assert not [a for t, a in tags if t == "link"]  # no external stylesheets or fonts
    # no network: the only URL is the SVG namespace (an identifier, never fetched)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}
    assert "@import" not in page and "url(" not in page
    svgs = _svgs(page)
    ok = [r for r in rec.results if r.ok]
    titles = [s.findtext("{http://www.w3.org/2000/svg}title") or "" for s in svgs]
    for r in ok:  # one histogram per engine that ran, with its bars
        (hist,) = [s for s, t in zip(svgs, titles) if t.startswith(f"{r.engine} ·")]
        assert len(hist.findall("{http://www.w3.org/2000/svg}rect")) > 5
    assert any("p50 and p99" in t for t in titles) and len(svgs) == len(ok) + 1
    # the machine, configuration, the table as the terminal shows it, warnings, the run id
    assert "Xeon Test | CPU" in page and "0-3,8" in page and rec.run_id in page and rec.created in page
    assert "1.50×" in page and "FAILED" in page and "could not load" in page
    assert "governor is powersave" in page and "ran in bf16, not fp32" in page
    assert "prefers-color-scheme: dark" in page and "@media print" in page


def test_record_text_is_escaped():
    rec = record(2, model={"name": "<script>alert(1)</script>"}, note='a "quoted" & <b>bold</b> note')
    rec.results[0].warnings = [{"code": "x<y", "message": "<img src=x onerror=alert(1)>"}]
    page = render_html(rec)
    assert "<script>" not in page and "<img" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert not [t for t, _ in _tags(page) if t in ("script", "img", "b")]
    _svgs(page)  # still valid XML


def test_below_fp32_shows_the_same_engine_fp32_and_the_drift():
    low = result(
        "openvino",
        1.0,
        7,
        precision_requested="int8",
        precision_effective="int8",
        fp32_baseline={"status": "ok", "latency_ms": {"p50": 3.5}},
        speedup_vs_fp32=3.5,
        drift={"status": "within", "rel_l2": 0.18, "precision": "int8", "samples": 8, "tolerance": 0.5},
    )
    rec = record(3, results=[low], config={"batch": 2, "mode": "latency", "precision": "int8"})
    page = render_html(rec)
    assert "int8 against each engine's own fp32" in page and "on 8 seeded inputs" in page
    assert "3.500" in page and "3.50×" in page and "0.1800" in page and "within" in page


def test_charts_degrade_without_data():
    svg = histogram_svg([], [], "torch · fp32")
    assert "no histogram stored" in svg and ET.fromstring(svg) is not None
    rec = record(4)
    rec.results[0].histogram = None  # an old record without a stored histogram
    rec.results[1].histogram = {"format": "loghist/1"}  # a malformed one
    assert render_html(rec).count("no histogram stored") == 2
    bars = bar_chart_svg(["a", "b"], {"p50": [1.0, None], "p99": [2.0, 3.0]}, "t")
    assert len(ET.fromstring(bars).findall("{http://www.w3.org/2000/svg}rect")) == 2 + 3  # legend + bars


# ----------------------------------------------------------------------------------------------------- the CLI


wb = partial(cli_helpers.wb, timeout=120)


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_HISTORY", raising=False)
    return tmp_path / "home"


def test_cli_report_from_a_file_and_from_the_history(home: Path, tmp_path: Path):
    rec = record(5)
    outdir = tmp_path / "out"
    outdir.mkdir()
    src = write(outdir / "result.json", "json", [rec])
    out = outdir / "run.html"
    out.write_text("old report")
    p = wb("report", str(src), "--html", str(out), home=home)
    assert p.returncode == 0, p.stderr
    page = out.read_text()
    assert rec.run_id in page and page.startswith("<!DOCTYPE html>")
    assert sorted(os.listdir(outdir)) == ["result.json", "run.html"]  # replaced in place, no temporary left
    stored = record(6)
    HistoryStore().add(stored)  # the same WORKBENCH_HOME as the subprocess
    out2 = tmp_path / "latest.html"
    p = wb("report", "latest", "--html", str(out2), home=home)
    assert p.returncode == 0, p.stderr
    assert stored.run_id in out2.read_text() and stored.run_id in p.stderr


@pytest.mark.parametrize("run", ["nosuchrun", "missing.json"])
def test_cli_bad_run_is_one_error_line(home: Path, tmp_path: Path, run: str):
    out = tmp_path / "x.html"
    p = wb("report", run, "--html", str(out), home=home)
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error: ") and not any("Traceback" in ln for ln in lines)
    assert len([ln for ln in lines if ln.startswith("error:")]) == 1
    assert not out.exists()
