"""Sweep reports: the terminal rendering, CSV/Markdown/JSON (workbench.report.sweep), the HTML page
(workbench.report.html.render_sweep_html) and ``workbench report SWEEP`` (workbench.cli.report).

The sweep records are hand-built fixtures with chosen round numbers — never presented as measurements.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import xml.etree.ElementTree as ET
from functools import partial
from html.parser import HTMLParser
from pathlib import Path

import cli_helpers
import pytest
from test_scaling import cell_result, key, sweep_record

from workbench.report.html import line_chart_svg, pareto_svg, render_html, render_sweep_html
from workbench.report.sweep import SWEEP_CSV_COLUMNS, render_sweep, sweep_csv, sweep_json, sweep_markdown
from workbench.result import RunRecord
from workbench.store.history import HistoryStore

SVG_NS = "{http://www.w3.org/2000/svg}"
GROUP = "openvino|fp32|t2|b0|latency|s-|r-|sp0"
FILE = {"file_bytes": 4 << 20}


def full_sweep() -> RunRecord:
    """Two engines over threads 1/2/4, batch 8, an int8 cell, a failed cell, a memory search with probes."""
    results = [
        cell_result("onnxruntime", threads=1, p50=10.0),
        cell_result("openvino", threads=1, p50=8.0),
        cell_result("onnxruntime", threads=2, p50=6.0),
        cell_result("openvino", threads=2, p50=4.0),
        cell_result("onnxruntime", threads=4, error="engine crashed: SIGSEGV in libfoo"),
        cell_result("openvino", threads=4, p50=2.5),
        cell_result("onnxruntime", threads=1, batch=8, p50=60.0),
        cell_result("openvino", threads=1, batch=8, p50=40.0),
        cell_result("openvino", precision="int8", threads=1, p50=4.0),
        cell_result("openvino", threads=2, batch=2, p50=6.0, rss=300.0, probe_group=GROUP),
        cell_result("openvino", threads=2, batch=4, p50=10.0, rss=350.0, probe_group=GROUP),
    ]
    search = {
        GROUP: {
            "limit_mb": 400.0,
            "best_batch": 4,
            "best_key": key("openvino", "fp32", 2, 4, "latency"),
            "probes": [
                {"batch": 2, "peak_rss_mb": 300.0, "status": "ok", "fits": True},
                {"batch": 4, "peak_rss_mb": 350.0, "status": "ok", "fits": True},
                {"batch": 8, "peak_rss_mb": 480.0, "status": "ok", "fits": False},
            ],
            "reason": "batch 8 peaked at 480 MB, over the 400 MB limit",
        }
    }
    return sweep_record(results, memory_search=search)


# ------------------------------------------------------------------------------------------------ terminal


def test_terminal_rendering_has_the_header_cells_scaling_and_charts():
    rec = full_sweep()
    text = render_sweep(rec)
    first = text.splitlines()[0]
    assert first.startswith("sweep 5eed5eed5eed · tiny_cnn · complete · 11/11 cells (1 failed)")
    assert "machine: Xeon Test CPU" in text
    # the failed cell is a row, and its error is printed
    assert "FAILED" in text and "onnxruntime fp32 t4 b1 latency: engine crashed: SIGSEGV in libfoo" in text
    # thread scaling: onnxruntime 10 -> 6 ms is 1.67x, 83.3 %; openvino 8 -> 2.5 ms at 4 threads is 3.20x, 80.0 %
    assert "onnxruntime fp32 b1 latency (speedup from p50, vs 1 thread)" in text
    assert re.search(r"^\s+2\s+6\.000\s+166\.7\s+100\.0\s+1\.67×\s+83\.3%$", text, re.M)
    assert re.search(r"^\s+4\s+2\.500\s+400\.0\s+100\.0\s+3\.20×\s+80\.0%$", text, re.M)
    # batch scaling: per-item latency 40 / 8 = 5 ms, gain 200 / 125 = 1.60x
    assert re.search(r"^\s+8\s+40\.00\s+5\.000\s+200\.0\s+100\.0\s+1\.60×$", text, re.M)
    # precision gain, memory search, the front
    assert re.search(r"openvino t1 b1 latency\s+int8\s+int8\s+8\.000\s+4\.000\s+125\.0\s+250\.0\s+2\.00×", text)
    # the best batch's cell is its probe here (batch 4: 4 items per 10 ms, 350 MB)
    assert "openvino fp32 t2 latency: limit 400.0 MB · best batch 4 · 400.0 items/s · peak RSS 350.0 MB" in text
    assert "batch 8 peaked at 480 MB" in text
    assert "Pareto front" in text and "openvino fp32 t4 b1 latency" in text
    # plotext charts, plain text, within 80 columns
    assert "items/s vs threads · fp32 b1 latency" in text and "peak RSS vs batch" in text
    assert "\x1b" not in text
    chart_lines = [ln for ln in text.splitlines() if "┤" in ln or "└" in ln]
    assert chart_lines and max(len(ln) for ln in chart_lines) <= 80
    plain = render_sweep(rec, charts=False)
    assert "┤" not in plain and "items/s vs threads" not in plain and "1.67×" in plain


def test_a_sweep_with_nothing_measured_yet_renders():
    rec = sweep_record([])
    rec.sweep["state"] = "running"  # type: ignore[index]
    rec.sweep["cells_total"] = 6  # type: ignore[index]
    text = render_sweep(rec)
    assert "running · 0/6 cells" in text and "no cells measured yet" in text


def test_sparsity_study_table_and_chart():
    rec = sweep_record(
        [
            cell_result("openvino", p50=10.0, sizes={"achieved": 0.0, "file_bytes": 4 << 20, "gzip_bytes": 4 << 20}),
            cell_result("openvino", p50=8.0, sparsity=0.5, sizes={"achieved": 0.5, "gzip_bytes": 2 << 20} | FILE),
            cell_result("openvino", sparsity=0.9, error="pruning failed"),
        ]
    )
    text = render_sweep(rec)
    assert "Sparsity study" in text and "tiny_cnn · openvino fp32 t1 b1 latency" in text
    assert re.search(r"50%\s+50\.0%\s+8\.000\s+125\.0\s+4 MiB\s+2 MiB\s+1\.25×\s+0\.50×\s+pass", text)
    assert re.search(r"0%\s+0\.0%\s+10\.00\s+100\.0\s+4 MiB\s+4 MiB\s+baseline", text)
    assert "openvino fp32 t1 b1 latency sparsity 0.9 failed: pruning failed" in text
    assert "items/s vs sparsity" in text
    assert "sparsity" in text.splitlines()[4]  # the cell table grows a sparsity column
    md = sweep_markdown(rec)
    assert "### Sparsity study" in md and "| 50% | 50.0% | 8.000 | 125.0 | 4 MiB | 2 MiB | 1.25× | 0.50× | pass |" in md
    page = render_sweep_html(rec)
    assert "Sparsity study" in page and "items/s vs sparsity" in page


# ------------------------------------------------------------------------------------------------ exports


def test_csv_has_one_row_per_cell_and_probe_with_raw_numbers():
    rec = full_sweep()
    rows = list(csv.DictReader(io.StringIO(sweep_csv(rec))))
    assert list(rows[0]) == list(SWEEP_CSV_COLUMNS)
    assert len(rows) == len(rec.results) == 11
    assert [r["search"] for r in rows].count("max-memory") == 2
    by_key = {(r["key"], r["search"]): r for r in rows}
    two = by_key[(key("onnxruntime", "fp32", 2, 1, "latency"), "")]
    assert float(two["p50_ms"]) == 6.0 and float(two["thread_speedup"]) == pytest.approx(10 / 6)
    assert float(two["thread_efficiency"]) == pytest.approx(10 / 12) and two["status"] == "ok"
    failed = by_key[(key("onnxruntime", "fp32", 4, 1, "latency"), "")]
    assert failed["status"] == "failed" and failed["error"] == "engine crashed: SIGSEGV in libfoo"
    assert failed["p50_ms"] == "" and failed["thread_speedup"] == ""
    b8 = by_key[(key("openvino", "fp32", 1, 8, "latency"), "")]
    assert float(b8["per_item_ms"]) == 5.0 and float(b8["throughput"]) == 200.0
    int8 = by_key[(key("openvino", "int8", 1, 1, "latency"), "")]
    assert float(int8["precision_gain"]) == 2.0


def test_markdown_has_the_tables():
    md = sweep_markdown(full_sweep())
    assert md.startswith("## Sweep `5eed5eed5eed` — tiny_cnn")
    assert "| engine | prec | thr | batch | mode | streams | req | p50 ms |" in md
    assert "| onnxruntime | fp32 | 4 | 1 | latency | — | — | — | — | — | — | — | failed: engine crashed: SIGSEGV" in md
    assert "### Thread scaling" in md and "| 2 | 6.000 | 166.7 | 100.0 | 1.67× | 83.3% |" in md
    assert "### Batch scaling" in md and "| 8 | 40.00 | 5.000 | 200.0 | 100.0 | 1.60× |" in md
    assert "### Precision gain" in md and "### Memory-bounded batch search" in md and "### Pareto front" in md
    cell_rows = [ln for ln in md.splitlines() if ln.startswith("| onnxruntime |") or ln.startswith("| openvino |")]
    assert len(cell_rows) == 9  # the grid cells; the probes are in the memory-search table


def test_json_is_the_record_plus_the_analysis():
    rec = full_sweep()
    doc = sweep_json(rec)
    text = json.dumps(doc, allow_nan=False)
    back = RunRecord.from_dict(json.loads(text))
    assert back.kind == "sweep" and back.run_id == rec.run_id and len(back.results) == 11
    a = doc["analysis"]
    ort = next(g for g in a["thread_scaling"] if g["axes"]["engine"] == "onnxruntime")
    assert ort["basis"] == "latency" and [r["threads"] for r in ort["rows"]] == [1, 2, 4]
    assert ort["rows"][1]["speedup"] == pytest.approx(10 / 6) and ort["rows"][2]["error"].startswith("engine crashed")
    assert a["memory_search"][0]["best_batch"] == 4 and a["memory_search"][0]["throughput"] == pytest.approx(400.0)
    assert a["pareto"][0]["key"] == key("openvino", "fp32", 4, 1, "latency")
    assert a["precision_gain"][0]["gain"] == 2.0


# --------------------------------------------------------------------------------------------------- HTML


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def _svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(b) for b in re.findall(r"<svg\b.*?</svg>", page, re.S)]


def test_html_is_self_contained_with_tables_and_charts():
    rec = full_sweep()
    page = render_html(rec)  # render_html dispatches a sweep
    assert page == render_sweep_html(rec)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags and "link" not in parser.tags and "img" not in parser.tags
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert "@import" not in page and "url(" not in page
    sections = ["Machine", "Configuration", "Cells", "Thread scaling", "Batch scaling", "Precision gain"]
    for h in [*sections, "Memory-bounded batch search", "Latency and throughput: the Pareto front"]:
        assert f"<h2>{h}</h2>" in page
    assert "Xeon Test CPU" in page and "engine crashed: SIGSEGV in libfoo" in page and "1.67×" in page
    svgs = _svgs(page)
    titles = [s.findtext(f"{SVG_NS}title") or "" for s in svgs]
    assert "items/s vs threads · fp32 b1 latency" in titles and "speedup vs threads · fp32 b1 latency" in titles
    assert "items/s vs batch · fp32 t1 latency" in titles and "per-item ms vs batch · fp32 t1 latency" in titles
    assert "peak RSS vs batch · openvino fp32 t2 latency" in titles
    rss = svgs[titles.index("peak RSS vs batch · openvino fp32 t2 latency")]
    assert len(rss.findall(f"{SVG_NS}circle")) == 3 and "limit 400.0 MB" in ET.tostring(rss, encoding="unicode")
    pareto = svgs[titles.index("throughput vs p50 latency: the Pareto front")]
    front = [c for c in pareto.findall(f"{SVG_NS}circle") if "s1" in (c.get("class") or "")]
    assert len(front) == 1 and "openvino fp32 t4 b1 latency (on the front)" in (
        front[0].findtext(f"{SVG_NS}title") or ""
    )
    assert len(pareto.findall(f"{SVG_NS}circle")) == 8  # every grid cell that ran, the probes not


def test_html_escapes_names_and_errors():
    rec = sweep_record(
        [
            cell_result("<b>evil</b>", threads=1, p50=2.0),
            cell_result("<b>evil</b>", threads=2, error="<script>alert(1)</script>"),
        ],
        model={"name": "<img src=x onerror=alert(1)>"},
    )
    page = render_sweep_html(rec)
    assert "<script>" not in page and "<img" not in page and "<b>evil" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;evil&lt;/b&gt;" in page
    parser = _Tags()
    parser.feed(page)
    assert not {"script", "img", "b"} & set(parser.tags)
    _svgs(page)  # still valid XML


def test_svg_helpers_degrade_without_data():
    empty = line_chart_svg({"a": [], "b": [(1, None)]}, "t", "x", "y")
    assert "no measurements to draw" in empty and ET.fromstring(empty) is not None
    assert "no cells ran" in pareto_svg([], [])
    one = line_chart_svg({"a": [(4, 10.0)]}, "one point", "threads", "items/s", hline=20.0, hline_label="limit")
    assert len(ET.fromstring(one).findall(f"{SVG_NS}circle")) == 1


# ---------------------------------------------------------------------------------------------------- CLI


wb = partial(cli_helpers.wb, timeout=120)


def test_cli_report_of_a_sweep_in_the_history(tmp_path: Path):
    rec = full_sweep()
    HistoryStore().put(rec)  # the same WORKBENCH_HOME as the subprocess (tests/conftest.py)
    out = tmp_path / "out"
    out.mkdir()
    html, table = out / "sweep.html", out / "sweep.csv"
    table.write_text("old")
    p = wb("report", rec.run_id[:6], "--html", str(html), "--csv", str(table), "--json", str(out / "s.json"))
    assert p.returncode == 0, p.stderr
    assert "wrote the html report of sweep 5eed5eed5eed" in p.stderr
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "Thread scaling" in page
    assert len(list(csv.DictReader(io.StringIO(table.read_text())))) == 11
    assert json.loads((out / "s.json").read_text())["analysis"]["thread_scaling"]
    assert sorted(os.listdir(out)) == ["s.json", "sweep.csv", "sweep.html"]  # written in place, no temporaries
    p = wb("report", "latest", "--markdown", str(out / "s.md"))
    assert p.returncode == 0, p.stderr
    assert (out / "s.md").read_text().startswith("## Sweep `5eed5eed5eed`")
    p = wb("report", "latest")  # no file: the terminal rendering
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("sweep 5eed5eed5eed · tiny_cnn") and "1.67×" in p.stdout and "┤" in p.stdout
    p = wb("report", "latest", "--no-charts")
    assert p.returncode == 0 and "┤" not in p.stdout and "Thread scaling" in p.stdout
    p = wb("report", str(out / "s.json"), "--no-charts")  # the JSON export reads back as the sweep
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("sweep 5eed5eed5eed")


def test_cli_report_of_a_run_prints_its_results_and_writes_csv(tmp_path: Path):
    from test_export import record

    run = record(7, config={"batch": 2, "threads": 4, "cores": [0, 1], "mode": "latency", "duration_s": 2.0})
    HistoryStore().add(run)
    p = wb("report", run.run_id)
    assert p.returncode == 0, p.stderr
    assert run.run_id in p.stdout and "FAILED" in p.stdout and "1.50×" in p.stdout
    p = wb("report", run.run_id, "--csv", str(tmp_path / "run.csv"))
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "run.csv").read_text())))
    assert [r["engine"] for r in rows] == ["torch", "openvino", "onnxruntime"]


@pytest.mark.parametrize(
    "args",
    [
        ("--html", "{dir}"),  # a directory
        ("--csv", "{dir}/missing/x.csv"),  # no such folder
        ("--csv", "{dir}/same", "--json", "{dir}/same"),  # one file twice
    ],
)
def test_cli_bad_files_are_one_error_line(tmp_path: Path, args: tuple[str, ...]):
    HistoryStore().put(full_sweep())
    out = tmp_path / "out"
    out.mkdir()
    p = wb("report", "latest", *[a.format(dir=out) for a in args])
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in p.stderr
    assert sorted(os.listdir(out)) == []  # nothing written
