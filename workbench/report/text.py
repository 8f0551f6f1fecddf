"""Plain-text rendering helpers for the CLI (no third-party dependency); numbers come from :mod:`workbench.units`."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from workbench.report.columns import headers, results_view, texts, view_keys
from workbench.report.parity import verdict_text
from workbench.stats.speedup import speedup_text, unshown_ratio
from workbench.units import MISSING, bytes_iec, count, ms, percent, ratio, significant

if TYPE_CHECKING:  # pragma: no cover
    from workbench.result import RunRecord

_BLANK = (None, "", "-", MISSING)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """An aligned text table. ``align`` is a string of 'l'/'r' per column.

    By default a column is right-aligned when every non-blank cell is a number as :mod:`workbench.units` writes
    them (``1,234``, ``+3.0%``, ``2.31×``); blank cells (``None``, ``""``, ``—``) do not count.
    """
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, v in enumerate(row):
            widths[i] = max(widths[i], len(v))
    if align is None:
        align = "".join(
            "r"
            if rows
            and all(_numeric(r[i]) for r in rows if r[i] not in _BLANK)
            and any(r[i] not in _BLANK for r in rows)
            else "l"
            for i in range(len(headers))
        )

    def fmt_row(row: Sequence[str]) -> str:
        parts = [v.rjust(w) if a == "r" else v.ljust(w) for v, w, a in zip(row, widths, align)]
        return "  ".join(parts).rstrip()

    lines = [fmt_row(list(headers)), "  ".join("─" * w for w in widths)]
    lines += [fmt_row(r) for r in cells]
    return "\n".join(lines)


def _numeric(v: Any) -> bool:
    if isinstance(v, (int, float)):
        return True
    s = str(v).strip("()").rstrip("x×%").replace(",", "")  # "(1.52×)": a ratio that is not a speedup
    try:
        float(s)
        return True
    except ValueError:
        return False


class ProgressLine:
    """A one-line progress bar on stderr, redrawn in place; silent when stderr is not a terminal."""

    def __init__(self, enabled: bool | None = None, width: int = 24) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.width = width
        self._last_len = 0
        self.fraction = 0.0

    def update(self, fraction: float, text: str) -> None:
        if not self.enabled:
            return
        self.fraction = fraction
        filled = int(round(max(0.0, min(1.0, fraction)) * self.width))
        bar = "█" * filled + "░" * (self.width - filled)
        line = f"\r{bar} {fraction * 100:5.1f}%  {text}"
        pad = max(0, self._last_len - len(line))
        sys.stderr.write(line + " " * pad)
        sys.stderr.flush()
        self._last_len = len(line)

    def message(self, text: str) -> None:
        if self.enabled:
            self.clear()
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled and self._last_len:
            sys.stderr.write("\r" + " " * self._last_len + "\r")
            sys.stderr.flush()
            self._last_len = 0


def describe_inputs(inputs: Mapping[str, Any]) -> str:
    """``sr=16000, x=a.npy, y=feeds.npz[y]`` from a recorded ``config["inputs"]`` (only the given inputs; the
    others were generated)."""
    parts = []
    for name, src in (inputs.get("sources") or {}).items():
        if src.get("source") == "value":
            parts.append(f"{name}={src.get('value')}")
        else:
            key = f"[{src['key']}]" if src.get("key") else ""
            parts.append(f"{name}={os.path.basename(str(src.get('path')))}{key}")
    return ", ".join(parts)


#: the results table's headings (the ``terminal`` view of :mod:`workbench.report.columns`)
RESULT_HEADERS: tuple[str, ...] = headers("terminal")


def result_rows(record: "RunRecord") -> list[list[str]]:
    """The results table, one row per engine (:func:`result_headers`): the terminal and the HTML report show these."""
    rows = []
    view = results_view(record)
    keys = view_keys(view, record.results, record)
    for r in record.results:
        if not r.ok:
            # why it failed is the first note (result_notes): the table stays narrow enough for a terminal
            row = [MISSING] * len(keys)
            row[0] = r.engine
            row[keys.index("parity") if "parity" in keys else len(keys) - 2] = "FAILED"
            rows.append(row)
            continue
        rows.append(texts(view, r, record, keys))
    return rows


def result_headers(record: "RunRecord") -> list[str]:
    """The headings of :func:`result_rows` for ``record``: the terminal view's (or the generate view's), with the
    energy and cost columns when one of its results measured them (:data:`workbench.report.columns.WHEN_MEASURED`)."""
    view = results_view(record)
    return list(headers(view, view_keys(view, record.results, record)))


def result_notes(record: "RunRecord") -> list[tuple[str, str]]:
    """``(kind, text)`` below the results table, kind ``bad``/``note``/``warn``: failures first, then each engine's
    unshown speedup, parity problem and warnings, then the machine's warnings."""
    notes: list[tuple[str, str]] = [
        ("bad", f"{r.engine} failed: {r.error or 'no measurements'}") for r in record.results if not r.ok
    ]
    notes += train_sparsity_notes(record)
    notes += energy_notes(record)
    notes += generation_notes(record)
    notes += interval_notes(record)
    for r in record.results:
        if r.speedup_note and r.speedup_note != "baseline" and r.speedup is None and r.ok:
            kept = unshown_ratio(r.speedup_note)
            if kept is not None:  # "(1.52×) ratio of medians, not a speedup: parity failed for …"
                notes.append(("note", f"{r.engine}: ({ratio(kept)}){r.speedup_note.partition('×')[2]}"))
            else:
                notes.append(("note", f"{r.engine}: speedup {r.speedup_note}"))
        p = r.parity or {}
        if p.get("status") in ("fail", "error") and p.get("message"):
            notes.append(("bad", f"{r.engine}: parity {p['status']}: {p['message']}"))
        elif r.ok and p.get("status") == "pass" and verdict_text(p):  # the rule behind the table's "pass"
            notes.append(("note", f"{r.engine}: parity {verdict_text(p)}"))
        for w in r.warnings or []:
            notes.append(("warn", f"{r.engine}: [{w.get('code')}] {w.get('message')}"))
    for w in record.warnings or []:
        notes.append(("warn", f"[{w.get('code')}] {w.get('message')}"))
    return notes


def generation_notes(record: "RunRecord") -> list[tuple[str, str]]:
    """``--mode generate``: what one sample is, each engine's token divergence (below fp32), the runtime's own
    timing beside ours, the precision settings read back and ONNX Runtime GenAI's all-position logits."""
    c = record.config or {}
    if c.get("mode") != "generate":
        return []
    sampling = c.get("sample") and next(
        ((r.generation or {}).get("sampling") for r in record.results if (r.generation or {}).get("sampling")), None
    )
    how = (
        "sampled ({}), seeded per generation: tokens not compared across engines".format(
            ", ".join(f"{k} {v:g}" for k, v in sampling.items() if k != "mode")
        )
        if sampling
        else "greedy"
    )
    batch = int(c.get("batch") or 1)
    per_batch = (
        f"; batch {batch}: TTFT is the batch's prefill, tok one step of the whole batch, tok/s counts {batch} "
        "tokens per step"
        if batch > 1
        else ""
    )
    notes: list[tuple[str, str]] = [
        (
            "note",
            "generate: TTFT = prompt prefill + first token; tok = each later token's decode step (the histogram); "
            f"{how}, EOS does not stop a generation; token ids fed directly to every engine{per_batch}",
        )
    ]
    for r in record.results:
        if not r.ok:
            continue
        p = r.parity or {}
        if p.get("status") == "diverged":
            notes.append(("note", f"{r.engine}: {p.get('message')}"))
        extra = (r.effective or {}).get("extra") or {}
        own = (r.generation or {}).get("engine_timing") or {}
        if own.get("ttft_ms") is not None:
            d_ttft, d_tpot = own.get("ttft_ours_vs_engine"), own.get("tpot_ours_vs_engine")
            notes.append(
                (
                    "note",
                    f"{r.engine}: its own perf_metrics: TTFT {ms(own.get('ttft_ms'))} ms, mean tok "
                    f"{ms(own.get('tpot_ms'))} ms (ours "
                    f"{percent(100 * d_ttft, signed=True) if d_ttft is not None else MISSING} / "
                    f"{percent(100 * d_tpot, signed=True) if d_tpot is not None else MISSING})",
                )
            )
        if "INFERENCE_PRECISION_HINT" in extra:
            notes.append(
                (
                    "note",
                    f"{r.engine}: read back INFERENCE_PRECISION_HINT={extra.get('INFERENCE_PRECISION_HINT')}, "
                    f"KV_CACHE_PRECISION={extra.get('KV_CACHE_PRECISION')}, DYNAMIC_QUANTIZATION_GROUP_SIZE="
                    f"{extra.get('DYNAMIC_QUANTIZATION_GROUP_SIZE')}, prefix caching off, weights "
                    f"{extra.get('weights') or MISSING}",
                )
            )
        if extra.get("logits_all_positions"):
            notes.append(
                (
                    "note",
                    f"{r.engine}: the GenAI builder's model computes logits for every prompt position (torch keeps "
                    "only the last), part of its TTFT",
                )
            )
    return notes


def interval_notes(record: "RunRecord") -> list[tuple[str, str]]:
    """One note per shown speedup with its interval: ``onnxruntime: 1.52× (99% CI 1.31–1.76×; one run each;
    run-to-run spread here ±5.1 % (assumed: …))`` — and what ``≈`` means when a ratio is inside the spread."""
    from workbench.stats.speedup import interval_detail

    return [
        (
            "note",
            f"{r.engine}: speedup {speedup_text(r.speedup, r.speedup_significant)} "
            + interval_detail(r.speedup_ci, r.speedup_significant, r.speedup_basis),
        )
        for r in record.results
        if r.speedup is not None and r.speedup_ci
    ]


def train_sparsity_notes(record: "RunRecord") -> list[tuple[str, str]]:
    """Notes for a training run (what one step is) and a pruned model (the achieved sparsity, each engine's file
    size and gzip -9 size; OpenVINO's sparse-weights switch, active or not)."""
    notes: list[tuple[str, str]] = []
    c = record.config or {}
    if c.get("mode") == "train":
        trains = [((r.effective or {}).get("extra") or {}).get("train") for r in record.results if r.ok]
        t = next((x for x in trains if x), None) or {}
        loss = t.get("loss") or "loss"
        notes.append(
            (
                "note",
                f"train: each sample is one step of batch {c.get('batch')} (zero_grad, forward, {loss}, backward, "
                f"{t.get('optimizer') or 'optimizer'} step); items/s = samples/s; parity does not apply",
            )
        )
    pruned = [r for r in record.results if r.sparsity]
    if pruned:
        s = pruned[0].sparsity or {}
        files = ", ".join(
            f"{r.engine} {bytes_iec(r.sparsity.get('file_bytes'))} (gzip {bytes_iec(r.sparsity.get('gzip_bytes'))})"
            for r in pruned
            if r.sparsity and r.sparsity.get("file_bytes") is not None
        )
        achieved = (s.get("achieved") or 0.0) * 100
        target = (s.get("target") or 0.0) * 100
        notes.append(
            (
                "note",
                f"sparsity: {percent(achieved, decimals=2)} of {count(s.get('weights'))} conv/linear weights are zero "
                f"(target {percent(target, decimals=0)}, per layer in --json)" + (f"; files: {files}" if files else ""),
            )
        )
        empty = list(s.get("empty_layers") or [])
        if empty:
            notes.append(
                (
                    "warn",
                    f"sparsity: {len(empty)} layer(s) pruned entirely ({', '.join(empty[:3])}"
                    f"{', …' if len(empty) > 3 else ''}): global magnitude pruning emptied them, so what follows "
                    "them no longer depends on the input",
                )
            )
    for r in record.results:
        sw = ((r.effective or {}).get("extra") or {}).get("sparse_weights")
        if isinstance(sw, dict):
            state = "active" if sw.get("active") else f"not active ({sw.get('why_inactive') or 'no sparse layer'})"
            notes.append(
                (
                    "note",
                    f"{r.engine}: sparse weights (rate {sw.get('rate')}) {state}: "
                    f"{sw.get('sparse_fully_connected')} of {sw.get('fully_connected')} FullyConnected layers sparse",
                )
            )
    return notes


def energy_notes(record: "RunRecord") -> list[tuple[str, str]]:
    """One line when no result could measure energy (why), else what was measured (the domains, idle power, and
    what was not measured); one line for the price behind the $/M column."""
    out: list[tuple[str, str]] = []
    ok = [r for r in record.results if r.ok and r.energy]
    unavailable = {str(r.energy.get("reason")) for r in ok if r.energy and r.energy.get("status") == "unavailable"}
    measured = [r for r in ok if r.energy and r.energy.get("status") == "measured"]
    if unavailable and not measured:
        out.append(("note", f"energy: not measured — {'; '.join(sorted(unavailable))}"))
    elif measured:
        e = measured[0].energy or {}
        idle = e.get("idle_watts")
        idle_s = (
            f", idle {significant(idle)} W measured before the rounds" if idle is not None else ", idle not measured"
        )
        out.append(
            ("note", f"energy: {' + '.join(e.get('domains') or [])} (RAPL/NVML counters around each round){idle_s}")
        )
        for why in sorted({w for r in measured for w in (r.energy or {}).get("not_measured") or []}):
            out.append(("note", f"energy not measured for {why}"))
        for r in measured:
            if (r.energy or {}).get("note"):
                out.append(("warn", f"{r.engine}: energy {(r.energy or {}).get('note')}"))
        for r in ok:
            if r.energy and r.energy.get("status") == "unavailable":
                out.append(("note", f"{r.engine}: energy not measured — {r.energy.get('reason')}"))
    priced = next((r.cost for r in record.results if r.cost), None)
    if priced:
        out.append(
            (
                "note",
                f"cost: ${significant(priced.get('price_per_hour'))}/hour ({priced.get('source')}) over the measured "
                "throughput, in $ per million items",
            )
        )
    return out


def render_results(record: "RunRecord") -> str:
    rows = result_rows(record)
    heads = list(result_headers(record))
    c = record.config
    cores = c.get("cores") or []
    from workbench.report.export import format_cores

    cores_s = format_cores(cores)
    cpu = ((record.system or {}).get("cpu") or {}).get("model")
    dur = c.get("duration_s")
    rounds = (
        f"{dur:g}s x {c.get('repeats') or 1}"
        if isinstance(dur, (int, float))
        else f"{MISSING} x {c.get('repeats') or 1}"
    )
    head = (
        f"{(record.model or {}).get('name', '?')}  batch {c.get('batch', MISSING)}  {c.get('mode', MISSING)}  "
        f"threads {c.get('threads', 'auto')}  cores {cores_s or MISSING}  {rounds}  run {record.run_id}"
    )
    lines = [head]
    given = describe_inputs(c.get("inputs") or {})
    if given:
        lines.append(f"inputs given: {given}")
    lines.append(table(heads, rows))
    from workbench.report.precision import render_precision

    below = render_precision(record)  # below fp32: the same engines against their own fp32, with the drift
    if below:
        lines.append(below)
    from workbench.report.loadgen import render_loadgen

    under_load = render_loadgen(record)  # a LoadGen scenario: its verdict, rate and latency at the percentile
    if under_load:
        lines.append(under_load)
    notes = [f"  {text}" for _, text in result_notes(record)]
    if notes:
        lines.append("notes:")
        lines += notes
    if isinstance(cpu, str) and cpu:
        lines.append(f"machine: {cpu}")
    return "\n".join(lines)
