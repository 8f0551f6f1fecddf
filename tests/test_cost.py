"""What it costs: --price-per-hour and the prices file → $ per million items; recommend's cost and energy
objectives on the fake engine landscape of test_recommend (a known answer); compare --by machine by cost."""

from __future__ import annotations

import json

import pytest
from cli_helpers import wb
from test_recommend import FakeEvaluator, space

from workbench.campaign.recommend import Measurement, Search
from workbench.errors import UsageError
from workbench.machine import prices as pr
from workbench.result import EngineResult, RunRecord

PRICE = 3.06  # dollars per hour


def _best_within(fake: FakeEvaluator, objective: str, budget_ms: float, figure) -> tuple[float, object]:
    """Brute force over the whole space: the lowest ``figure`` among the cells whose p99 meets the budget."""
    best: tuple[float, object] | None = None
    for cell in space(objective).cells():
        m = fake.evaluate(cell, 1.0)
        if m.p99_ms is not None and m.p99_ms <= budget_ms and (best is None or figure(m) < best[0]):
            best = (figure(m), cell)
    assert best is not None
    return best


def test_recommend_cost_picks_the_cheapest_configuration_within_the_latency_budget():
    free = Search(FakeEvaluator(), duration_s=3.0, price_per_hour=PRICE).run([space("cost")]).outcome("cost")
    c = free.best.cell  # no budget: the fastest throughput is the cheapest (the landscape's known optimum)
    assert (c.engine, c.precision, c.threads, c.streams, c.requests, c.batch) == ("openvino", "int8", 8, 2, 4, 16)
    budget = free.best.p99_ms / 3  # the cheapest configuration is too slow per call now
    cheapest, cell = _best_within(FakeEvaluator(), "cost", budget, lambda m: PRICE / 3600 / m.throughput * 1e6)
    rec = Search(FakeEvaluator(), duration_s=3.0, latency_budget_ms=budget, price_per_hour=PRICE).run([space("cost")])
    o = rec.outcome("cost")
    assert o is not None and o.best is not None and o.meets_budget is True and o.best.p99_ms <= budget
    assert o.best.usd_per_million == pytest.approx(PRICE / 3600 / o.best.throughput * 1e6)
    assert o.best.usd_per_million == pytest.approx(cheapest, rel=0.03), (o.best.cell, cell)
    assert free.best.usd_per_million < o.best.usd_per_million


def test_recommend_energy_picks_the_fewest_joules_per_item():
    class Powered(FakeEvaluator):
        """The fake landscape with a fake power draw: 20 W plus 12 W per thread."""

        def evaluate(self, cell, duration_s) -> Measurement:
            m = super().evaluate(cell, duration_s)
            if m.ok:
                m.j_per_item = (20.0 + 12.0 * cell.threads) / m.throughput
            return m

    budget = 10.0
    fewest, cell = _best_within(Powered(), "energy", budget, lambda m: m.j_per_item)
    o = Search(Powered(), duration_s=3.0, latency_budget_ms=budget).run([space("energy")]).outcome("energy")
    assert o is not None and o.best is not None and o.best.j_per_item == pytest.approx(fewest, rel=0.05)


def test_cost_needs_a_price_and_a_good_one():
    with pytest.raises(UsageError, match="needs this machine's price"):
        Search(FakeEvaluator(), duration_s=3.0).run([space("cost")])
    with pytest.raises(UsageError, match="positive"):
        Search(FakeEvaluator(), price_per_hour=-1.0)
    for bad in (-2, 0, "x", float("nan")):
        with pytest.raises(UsageError):
            pr.check_price(bad)


def test_prices_file_lookup_and_malformed_files(tmp_path, workbench_home):
    from workbench.paths import config_dir

    assert config_dir() == workbench_home / "config"
    path = config_dir() / "prices.json"
    path.write_text(json.dumps({"partitions": {"spr": 2.5}, "machines": {"abc123": 1.25}}))
    prices = pr.load_prices()
    assert pr.lookup(prices, partition="spr", machine_keys=["abc123"]).per_hour == 2.5
    found = pr.lookup(prices, partition="icx", machine_keys=[None, "abc123"])
    assert found.per_hour == 1.25 and "machine abc123" in found.source
    assert pr.lookup(prices, machine_keys=["zzz"]) is None
    for text, needle in (
        ("{not json", "is not JSON"),
        ('{"machines": {"a": -3}}', "positive"),
        ('{"gpus": {}}', "must be an object"),
        ("[1, 2]", "must be an object"),
    ):
        path.write_text(text)
        with pytest.raises(UsageError, match=needle):
            pr.load_prices()


def test_cost_entry_and_the_column():
    r = EngineResult(engine="e", model="m", throughput=1000.0)
    pr.attach_costs(RunRecord("r", "now", {}, {}, {}, {}, [r]), pr.Price(PRICE, "--price-per-hour"))
    assert r.cost["usd_per_million"] == pytest.approx(PRICE / 3600 / 1000 * 1e6)  # $0.85 per million items
    from workbench.report.columns import COLUMNS, view_keys

    assert "usd_per_million" in view_keys("terminal", [r]) and COLUMNS["usd_per_million"].cell(r) == "0.8500"


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["run", "-m", "tiny_cnn", "--price-per-hour", "-1"], "--price-per-hour must be a positive"),
        (["recommend", "-m", "tiny_cnn", "--objective", "cost"], "needs this machine's price"),
        (["recommend", "-m", "tiny_cnn", "--objective", "energy"], "needs energy counters"),
    ],
)
def test_cli_bad_price_or_missing_counters_is_one_line(argv, needle, tmp_path):
    out = wb(*argv, timeout=120, env={"WORKBENCH_POWERCAP_ROOT": str(tmp_path / "absent")})
    assert out.returncode == 2, out.stderr
    lines = [ln for ln in out.stderr.strip().splitlines() if ln]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in out.stderr


def test_cli_malformed_prices_file_is_one_line(workbench_home):
    (workbench_home / "config").mkdir()
    (workbench_home / "config" / "prices.json").write_text("{oops")
    out = wb("run", "-m", "tiny_cnn", timeout=120)
    assert out.returncode == 2 and "prices.json is not JSON" in out.stderr and "Traceback" not in out.stderr


def test_compare_by_machine_ranks_by_cost_from_the_prices_file(workbench_home, capsys):
    """Machine A is faster but dearer: per million items B is cheaper. A machine without a price is left out."""
    from cli_helpers import run_cli

    from workbench.result import new_run_id, now_iso
    from workbench.store.history import HistoryStore

    def rec(cpu: str, p50: float, throughput: float) -> RunRecord:
        r = EngineResult(
            engine="onnxruntime", model="m", threads=2, latency_ms={"p50": p50, "p99": p50}, throughput=throughput
        )
        r.parity = {"status": "pass"}
        system = {"fingerprint": f"fp-{cpu}", "fingerprint_fields": {"cpu_model": cpu}, "cpu": {"model": cpu}}
        return RunRecord(new_run_id(), now_iso(), {"name": "m"}, {}, system, {}, [r])

    store = HistoryStore()
    for r in (rec("Xeon A", 1.0, 1000.0), rec("Xeon B", 2.0, 500.0), rec("Xeon C", 0.5, 2000.0)):
        store.add(r)
    (workbench_home / "config").mkdir()
    (workbench_home / "config" / "prices.json").write_text(
        json.dumps({"machines": {"fp-Xeon A": 4.0, "fp-Xeon B": 1.0}})
    )
    assert run_cli(["compare", "--by", "machine", "-m", "m", "--objective", "cost", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ranking = doc["objectives"]["cost"]
    assert [r["label"].split()[1] for r in ranking["machines"]] == ["B", "A"]  # C has no price: not ranked
    assert ranking["winner"]["best"]["value"] == pytest.approx(1.0 / 3600 / 500 * 1e6)
    front = doc["latency_cost_front"]
    assert [f["label"].split()[1] for f in front] == ["A", "B"]  # A is faster, B cheaper: both on the front


def test_cli_run_with_a_price_has_dollars_per_million_in_the_table_and_json(tmp_path, shared_cache):
    out_json = tmp_path / "r.json"
    out = wb(
        "run", "-m", "tiny_cnn", "-e", "noop", "--duration", "0.3", "--no-parity", "--price-per-hour", "2.5",
        "--json", str(out_json), "--no-save",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    header = next(ln for ln in out.stdout.splitlines() if ln.startswith("engine"))
    assert header.split()[-1] == "$/M" and "cost: $2.500/hour (--price-per-hour)" in out.stdout
    doc = json.loads(out_json.read_text())
    r = (doc[0] if isinstance(doc, list) else doc)["results"][0]
    assert r["cost"]["usd_per_million"] == pytest.approx(2.5 / 3600 / r["throughput"] * 1e6)
