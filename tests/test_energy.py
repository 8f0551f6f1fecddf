"""Energy: RAPL counters from a fake powercap tree (wraparound included), a fake NVML, the per-inference arithmetic,
a real short run whose counters advance, and what a machine without counters says."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from workbench.machine import energy as en
from workbench.measure.runner import RunConfig, Runner
from workbench_engines.base import ModelArtifact, TensorSpec

NOOP = ModelArtifact(name="noop", source="builtin", files={"onnx": ""}, inputs=(TensorSpec("x", (1, 4), "float32"),))
MAX_UJ = 262_143_328_850


def _zone(root: Path, zone: str, name: str, uj: int, max_uj: int = MAX_UJ) -> Path:
    d = root / zone
    d.mkdir(parents=True)
    (d / "name").write_text(name + "\n")
    (d / "energy_uj").write_text(f"{uj}\n")
    (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return d


def _write(path: Path, value: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{value}\n")
    os.replace(tmp, path)


class Advancing:
    """Counters that advance at a fixed power (W) per zone, wrapping at ``max_energy_range_uj``: what the kernel's
    powercap files do on a machine that draws that power."""

    def __init__(self, zones: dict[Path, float], start: dict[Path, int]) -> None:
        self.zones, self.start = zones, start
        self.t0 = time.perf_counter()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.002):
            t = time.perf_counter() - self.t0
            for z, watts in self.zones.items():
                _write(z / "energy_uj", int(self.start[z] + watts * 1e6 * t) % MAX_UJ)

    def __enter__(self) -> "Advancing":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join()


def test_counter_delta_unwraps_once():
    assert en.counter_delta(100, 250, 1000) == 150
    assert en.counter_delta(900, 50, 1000) == 150  # wrapped past max_energy_range_uj
    assert en.counter_delta(900, 50, None) == -850  # no range known: not invented


def test_rapl_zones_package_and_dram_only(tmp_path):
    _zone(tmp_path, "intel-rapl:0", "package-0", 1)
    _zone(tmp_path, "intel-rapl:0:0", "core", 1)
    _zone(tmp_path, "intel-rapl:0:1", "dram", 1)
    _zone(tmp_path, "intel-rapl:1", "psys", 1)
    counters, why = en.rapl_counters(tmp_path)
    assert why is None and [c.name for c in counters] == ["package-0", "dram-0"]


def test_no_tree_and_root_only_counters_say_why(tmp_path, monkeypatch):
    meter, why = en.open_meter("cpu", root=tmp_path / "absent")
    assert meter is None and "no powercap tree" in why and "virtual machine" in why
    _zone(tmp_path, "intel-rapl:0", "package-0", 1)

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(en.RaplCounter, "read", denied)
    meter, why = en.open_meter("cpu", root=tmp_path)
    assert meter is None and "readable by root only" in why


class FakeNvml:
    """pynvml's calls the reader uses: one GPU at a fixed power, with or without the total-energy counter."""

    def __init__(self, watts: float, energy_counter: bool = True) -> None:
        self.watts, self.energy_counter, self.t0 = watts, energy_counter, time.perf_counter()

    def nvmlInit(self):
        pass

    def nvmlDeviceGetCount(self):
        return 1

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        if not self.energy_counter:
            raise RuntimeError("Not Supported")
        return int((time.perf_counter() - self.t0) * self.watts * 1e3)  # mJ

    def nvmlDeviceGetPowerUsage(self, h):
        return int(self.watts * 1e3)  # mW


@pytest.mark.parametrize("counter", [True, False], ids=["energy-counter", "power-sampling"])
def test_fake_nvml_gpu_energy(tmp_path, counter):
    meter, why = en.open_meter("cuda", root=tmp_path / "absent", nvml=FakeNvml(250.0, counter))
    assert why is None and meter.domains == ["gpu-0"] and "CPU: no powercap tree" in meter.not_measured[0]
    meter.begin()
    time.sleep(0.2)
    t = time.perf_counter()
    joules = meter.end()["gpu-0"]
    assert joules == pytest.approx(250.0 * 0.2, rel=0.25), (joules, time.perf_counter() - t)
    # a CPU run does not read the GPU
    assert en.open_meter("cpu", root=tmp_path / "absent", nvml=FakeNvml(250.0))[0] is None


def test_energy_summary_arithmetic():
    rounds = [
        {"iterations": 100, "elapsed_ns": 1_000_000_000, "energy_j": {"package-0": 40.0, "dram-0": 10.0}},
        {"iterations": 300, "elapsed_ns": 1_000_000_000, "energy_j": {"package-0": 40.0, "dram-0": 10.0}},
    ]
    e = en.energy_summary(rounds, batch=4, idle={"watts": 20.0, "by_domain": {"package-0": 15.0, "dram-0": 5.0}})
    assert e["joules"] == 100.0 and e["watts"] == 50.0
    assert e["j_per_inference"] == 0.25 and e["j_per_item"] == 0.0625
    assert e["inferences_per_j"] == 4.0 and e["items_per_j"] == 16.0
    assert e["idle_watts"] == 20.0 and e["above_idle_watts"] == 30.0 and e["above_idle_share"] == 0.6
    assert e["domains"] == ["dram-0", "package-0"] and "note" not in e
    assert en.energy_summary([{"iterations": 1, "elapsed_ns": 1}], batch=1) is None
    stuck = en.energy_summary([{"iterations": 9, "elapsed_ns": 10**9, "energy_j": {"package-0": 0.0}}], batch=1)
    assert stuck["status"] == "unavailable" and "did not advance" in stuck["reason"]


def _cfg(**kw) -> RunConfig:
    base = dict(
        model="noop",
        engines=("noop",),
        duration_s=0.4,
        warmup_s=0.02,
        min_iterations=10,
        parity=False,
        cores=(0,),
        threads=1,
        repeats=2,
    )
    base.update(kw)
    return RunConfig(**base)


def test_a_real_run_reads_advancing_counters_across_a_wraparound(tmp_path, monkeypatch):
    pkg = _zone(tmp_path, "intel-rapl:0", "package-0", MAX_UJ - 5_000_000)  # wraps 0.1 s in at 50 W
    dram = _zone(tmp_path, "intel-rapl:0:0", "dram", 7)
    monkeypatch.setenv("WORKBENCH_POWERCAP_ROOT", str(tmp_path))
    monkeypatch.setattr(en, "IDLE_S", 0.2)
    with Advancing({pkg: 50.0, dram: 5.0}, {pkg: MAX_UJ - 5_000_000, dram: 7}):
        record = Runner(_cfg(), live=False, artifact=NOOP).run()
    r = record.results[0]
    e = r.energy
    assert r.ok and e["status"] == "measured" and e["domains"] == ["dram-0", "package-0"]
    assert e["watts"] == pytest.approx(55.0, rel=0.15)  # the counters' power, wraparound or not
    assert e["j_per_inference"] == pytest.approx(e["joules"] / r.iterations)
    assert e["j_per_item"] == pytest.approx(e["joules"] / (r.iterations * r.batch))
    assert e["idle_watts"] == pytest.approx(55.0, rel=0.2) and abs(e["above_idle_share"]) < 0.25
    assert all(rep["joules"] > 0 for rep in r.repeats)
    from workbench.report.text import render_results

    text = render_results(record)
    assert "J/item" in text and "items/J" in text and "energy: dram-0 + package-0" in text
    from workbench.report.html import render_html

    assert "J/item" in render_html(record)


def test_without_counters_the_run_says_why_and_nothing_else_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_POWERCAP_ROOT", str(tmp_path / "absent"))
    record = Runner(_cfg(duration_s=0.1, repeats=1), live=False, artifact=NOOP).run()
    r = record.results[0]
    assert r.ok and r.energy["status"] == "unavailable" and "no powercap tree" in r.energy["reason"]
    from workbench.report.export import MarkdownExporter
    from workbench.report.text import RESULT_HEADERS, render_results, result_headers

    assert result_headers(record) == list(RESULT_HEADERS)
    text = render_results(record)
    assert "J/item" not in text and "$/M" not in text
    assert [ln for ln in text.splitlines() if "energy" in ln] == [
        f"  energy: not measured — CPU: no powercap tree at {tmp_path / 'absent'} "
        "(a virtual machine, or a kernel without the intel_rapl driver)"
    ]
    assert "J/item" not in MarkdownExporter().render([record])


def test_a_sweep_shows_items_per_joule_vs_threads_and_dollars(tmp_path, shared_cache):
    """The CLI sweep over threads on a fake tree at 30 W with a price: the cell table, the thread table (the
    efficiency curve) and the CSV carry items/J and $/M."""
    from cli_helpers import wb

    from workbench.machine.cpus import allowed_cores

    threads = "1,2" if len(allowed_cores()) >= 2 else "1"
    pkg = _zone(tmp_path, "intel-rapl:0", "package-0", 0)
    csv_path = tmp_path / "sweep.csv"
    with Advancing({pkg: 30.0}, {pkg: 0}):
        out = wb(
            "sweep", "-m", "tiny_cnn", "-e", "noop", "--threads", threads, "--duration", "0.3", "--warmup", "0.05",
            "--no-parity", "--no-charts", "--price-per-hour", "2", "--csv", str(csv_path),
            env={"WORKBENCH_POWERCAP_ROOT": str(tmp_path)},
        )  # fmt: skip
    assert out.returncode == 0, out.stderr
    header = next(ln for ln in out.stdout.splitlines() if ln.startswith("engine"))
    assert "items/J" in header and "$/M" in header
    if threads == "1,2":
        thread_header = next(ln for ln in out.stdout.splitlines() if ln.startswith("threads"))
        assert thread_header.split()[-1] == "items/J"
    import csv

    rows = list(csv.DictReader(csv_path.open()))
    assert rows and all(float(r["items_per_j"]) > 0 and float(r["usd_per_million"]) > 0 for r in rows)
    for r in rows:  # items per joule = items/s ÷ watts, at the fake tree's 30 W
        assert float(r["items_per_j"]) == pytest.approx(float(r["throughput"]) / 30.0, rel=0.2)


def test_doctor_says_whether_energy_is_readable(tmp_path, monkeypatch):
    from workbench.machine.doctor import Machine, check_energy

    m = Machine(info={}, affinity=[0], requested=None, sample_s=0, engines=None, overhead_n=0)
    monkeypatch.setenv("WORKBENCH_POWERCAP_ROOT", str(tmp_path / "absent"))
    assert "not readable" in check_energy(m)[0]["detail"]
    _zone(tmp_path, "intel-rapl:0", "package-0", 5)
    monkeypatch.setenv("WORKBENCH_POWERCAP_ROOT", str(tmp_path))
    assert check_energy(m)[0]["detail"].startswith("readable: package-0")
