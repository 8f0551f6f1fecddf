"""The charts issue 23 asked for: items per joule vs threads beside items/s vs threads in a sweep's terminal and
HTML reports (only where cells measured energy), and the latency × cost Pareto front of ``compare --by machine
--objective cost`` drawn as a text chart and an SVG scatter. Energy and cost values are TEST FIXTURE DATA set
directly on the EngineResult objects; nothing is measured."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from test_scaling import cell_result, sweep_record

from workbench.report.html import render_sweep_html
from workbench.report.machines import (
    FRONT,
    cost_chart,
    cost_series,
    render_machines,
    render_machines_html,
)
from workbench.report.sweep import energy_series, render_sweep
from workbench.result import EngineResult, RunRecord, new_run_id, now_iso
from workbench.stats.machines import compare_machines
from workbench.stats.scaling import analyse

SVG_NS = "{http://www.w3.org/2000/svg}"
EFFICIENCY = "items per joule vs threads · fp32 b1 latency"


def _measured(r: EngineResult, items_per_j: float) -> EngineResult:
    r.energy = {"status": "measured", "items_per_j": items_per_j, "j_per_item": 1 / items_per_j}  # fixture data
    return r


def energy_sweep(measured: bool = True) -> RunRecord:
    """Two engines over threads 1/2/4; openvino's cells measured energy (fixture values), onnxruntime's did not."""
    results = []
    for t, p50, ipj in ((1, 8.0, 50.0), (2, 4.0, 80.0), (4, 2.5, 90.0)):
        ov = cell_result("openvino", threads=t, p50=p50)
        results.append(_measured(ov, ipj) if measured else ov)
        results.append(cell_result("onnxruntime", threads=t, p50=p50 * 1.2))
    return sweep_record(results)


def _chart(text: str, title: str) -> str:
    """The plotext chart whose title line holds ``title``: from that line to the next blank line."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if title in ln)
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return "\n".join(lines[start:end])


def _svgs(page: str) -> dict[str, ET.Element]:
    svgs = [ET.fromstring(b) for b in re.findall(r"<svg\b.*?</svg>", page, re.S)]
    return {s.findtext(f"{SVG_NS}title") or "": s for s in svgs}


# ------------------------------------------------------------------------------------------- sweep: energy


def test_energy_series_holds_only_the_measured_cells():
    a = analyse(energy_sweep())
    charts = energy_series(a.threads)
    assert [title for title, _ in charts] == [EFFICIENCY]
    assert charts[0][1] == {"openvino": [(1.0, 50.0), (2.0, 80.0), (4.0, 90.0)]}  # onnxruntime measured none
    assert energy_series(analyse(energy_sweep(measured=False)).threads) == []


def test_terminal_sweep_has_the_efficiency_curve_beside_items_per_second():
    text = render_sweep(energy_sweep())
    assert text.index("items/s vs threads · fp32 b1 latency") < text.index(EFFICIENCY)
    chart = _chart(text, EFFICIENCY)
    assert "openvino" in chart and "onnxruntime" not in chart  # one line per engine that measured energy
    assert "items/J" in text.split(EFFICIENCY, 1)[1]  # the y label follows the chart
    assert max(len(ln) for ln in chart.splitlines()) <= 80 and "\x1b" not in chart
    assert EFFICIENCY not in render_sweep(energy_sweep(), charts=False)


@pytest.mark.parametrize("energy", [None, {"status": "unavailable", "reason": "no RAPL", "items_per_j": 3.0}])
def test_terminal_sweep_without_measured_energy_has_no_efficiency_chart(energy):
    rec = energy_sweep(measured=False)
    for r in rec.results:
        r.energy = energy
    text = render_sweep(rec)
    assert "items per joule" not in text and "items/s vs threads · fp32 b1 latency" in text


def test_html_sweep_has_the_efficiency_svg_only_when_measured():
    svgs = _svgs(render_sweep_html(energy_sweep()))
    assert "items/s vs threads · fp32 b1 latency" in svgs and EFFICIENCY in svgs
    svg = svgs[EFFICIENCY]
    assert len(svg.findall(f"{SVG_NS}circle")) == 3  # openvino's three thread counts
    texts = [t.text for t in svg.iter(f"{SVG_NS}text")]
    assert "items/J" in texts and "openvino" in texts and "onnxruntime" not in texts
    titles = [c.findtext(f"{SVG_NS}title") or "" for c in svg.findall(f"{SVG_NS}circle")]
    assert "openvino: threads 2 → 80.00 items/J" in titles
    page = render_sweep_html(energy_sweep(measured=False))
    assert "items per joule" not in page and "items/s vs threads · fp32 b1 latency" in page


# ---------------------------------------------------------------------------------- machines: latency × cost


def _priced(cpu: str, p50: float, usd: float | None, threads: int = 2) -> RunRecord:
    r = EngineResult(
        engine="onnxruntime", model="m", threads=threads, latency_ms={"p50": p50, "p99": p50}, throughput=1000 / p50
    )
    r.parity = {"status": "pass"}
    if usd is not None:
        r.cost = {"usd_per_million": usd}  # fixture data
    system = {"fingerprint": f"fp-{cpu}", "fingerprint_fields": {"cpu_model": cpu}, "cpu": {"model": cpu}}
    return RunRecord(new_run_id(), now_iso(), {"name": "m"}, {}, system, {}, [r])


def machines(priced: bool = True):
    """A fast and dear, B slow and cheap (both on the front), C dominated by B; A's t4 dominated by A's t2."""
    usd = (lambda v: v) if priced else (lambda v: None)
    recs = [
        _priced("Xeon A", 1.0, usd(1.1)),
        _priced("Xeon A", 1.5, usd(1.6), threads=4),
        _priced("Xeon B", 2.0, usd(0.55)),
        _priced("Xeon C", 3.0, usd(0.9)),
    ]
    return compare_machines(recs, "m", ["latency", "cost"])


def test_cost_series_has_every_priced_configuration_and_the_front():
    per, front = cost_series(machines())
    assert {name.split(" [")[0]: pts for name, pts in per.items()} == {
        "Xeon A": [(1.0, 1.1), (1.5, 1.6)],
        "Xeon B": [(2.0, 0.55)],
        "Xeon C": [(3.0, 0.9)],
    }
    assert front == [(1.0, 1.1), (2.0, 0.55)]
    assert cost_series(machines(priced=False)) == ({}, [])


def test_terminal_compare_draws_the_latency_cost_front():
    cmp = machines()
    text = render_machines(cmp)
    title = "$ per million items vs p50 latency (front joined)"
    assert text.index("latency × cost: the (machine, configuration) pairs") < text.index(title)
    chart = _chart(text, title)
    legend = [ln for ln in chart.splitlines() if "Xeon" in ln or FRONT in ln]
    assert len(legend) == 4 and FRONT in legend[0]  # the front, then each machine labelled with its key
    for m in cmp.machines:
        assert f"{m.label} [{m.key}]" in chart
    assert max(len(ln) for ln in chart.splitlines()) <= 80 and "\x1b" not in chart
    assert "$/M items" in text.split(title, 1)[1] and "p50 ms per call" in text.split(title, 1)[1]


def test_terminal_compare_without_prices_or_cost_objective_has_no_chart():
    assert cost_chart(machines(priced=False)) == ""
    assert "$ per million items vs p50" not in render_machines(machines(priced=False))
    unpriced_objective = compare_machines([_priced("Xeon A", 1.0, 1.1)], "m", ["latency"])
    assert "$ per million items vs p50" not in render_machines(unpriced_objective)


def test_html_compare_has_the_cost_scatter_with_the_front_labelled():
    page = render_machines_html(machines())
    assert "<h2>Latency × cost: the Pareto front</h2>" in page
    svg = _svgs(page)["$ per million items vs p50 latency: the Pareto front"]
    circles = svg.findall(f"{SVG_NS}circle")
    front = [c for c in circles if "s1" in (c.get("class") or "")]
    assert len(circles) == 4 and len(front) == 2  # every priced configuration; A t2 and B on the front
    assert "onnxruntime fp32 t2 b1 latency (on the front): 2.000 ms, 0.5500 $/M items" in (
        front[1].findtext(f"{SVG_NS}title") or ""
    )
    labels = [t.text or "" for t in svg.iter(f"{SVG_NS}text") if t.get("class") == "plabel"]
    assert [lb.split(" [")[0] for lb in labels] == ["Xeon A", "Xeon B"]
    assert "$/M items" in [t.text for t in svg.iter(f"{SVG_NS}text")]
    assert "Latency × cost" not in render_machines_html(machines(priced=False))


def test_cli_compare_by_machine_cost_prints_and_writes_the_chart(workbench_home, tmp_path, capsys):
    from cli_helpers import run_cli

    from workbench.store.history import HistoryStore

    store = HistoryStore()
    for cpu, p50 in (("Xeon A", 1.0), ("Xeon B", 2.0)):
        store.add(_priced(cpu, p50, None))
    (workbench_home / "config").mkdir()
    (workbench_home / "config" / "prices.json").write_text(
        json.dumps({"machines": {"fp-Xeon A": 4.0, "fp-Xeon B": 1.0}})
    )
    page = tmp_path / "cmp.html"
    assert run_cli(["compare", "--by", "machine", "-m", "m", "--objective", "cost", "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "$ per million items vs p50 latency (front joined)" in out and "Xeon A [" in out
    assert "$ per million items vs p50 latency: the Pareto front" in page.read_text()
