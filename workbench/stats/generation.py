"""Text-generation statistics (``--mode generate``): pure functions over what the benchmark child measured.

* **TTFT** (time to first token): from the start of a generation call to its first output token — the prompt's
  prefill plus picking the first token; one value per generation.
* **TPOT** (time per output token): each later token's decode step; the run's streamed samples (its histogram)
  are exactly these, so their percentiles are the run's ``latency_ms`` and ``generation.tpot_ms``.
* **tokens/s**: decode = output tokens after the first / their decode time (× batch); end-to-end = all output
  tokens / the wall time of whole generations (× batch), TTFT included.

Token parity: the greedy ids an engine generated against the reference's (torch fp32), position by position; the
first position where they differ is the divergence. Greedy decoding amplifies any numeric difference once two
logits are close (a random-weight model's top-2 gap can be 0.003), so below fp32 a divergence is expected and
reported, not a failure; at fp32 a divergence fails parity. The prompt's last-position logits are compared by
relative L2 where the engine exposes them.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from workbench.stats.histogram import LogHistogram

#: percentiles of TTFT and TPOT
GEN_PERCENTILES = (50.0, 90.0, 99.0)
#: at these precisions greedy tokens must match the reference exactly (a divergence fails parity)
EXACT_PRECISIONS = ("fp32",)


def _pset(values_ms: np.ndarray) -> dict[str, float]:
    if values_ms.size == 0:
        return {}
    out = {
        "mean": float(values_ms.mean()),
        "min": float(values_ms.min()),
        "max": float(values_ms.max()),
        "std": float(values_ms.std(ddof=1)) if values_ms.size > 1 else 0.0,
    }
    for p in GEN_PERCENTILES:
        out[f"p{p:g}"] = float(np.percentile(values_ms, p))
    return out


def summarise(
    rounds: Sequence[Mapping[str, Any]],
    latency_ms: Mapping[str, Any] | None,
    *,
    batch: int,
    prompt_tokens: int,
    new_tokens: int,
    sampling: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``generation`` entry of a result from its rounds (``round_done`` payloads: ``ttft_ns``, ``e2e_ns``,
    ``generated``, ``iterations`` = decode steps, ``engine_metrics``, ``kv_cache``) and its decode-step summary
    (``latency_ms``). ``sampling``: the run's sampling settings (None: greedy)."""
    ttft = np.array([t for r in rounds for t in r.get("ttft_ns", [])], dtype=np.float64) / 1e6
    e2e_ns = sum(sum(r.get("e2e_ns", [])) for r in rounds)
    generated = sum(sum(r.get("generated", [])) for r in rounds)
    generations = sum(int(r.get("generations", 0)) for r in rounds)
    decode_steps = sum(int(r.get("iterations", 0)) for r in rounds)
    lat = dict(latency_ms or {})
    mean_tpot = lat.get("mean")
    decode_tps = batch * 1000.0 / mean_tpot if mean_tpot else None
    e2e_tps = batch * generated / (e2e_ns / 1e9) if e2e_ns else None
    hist = LogHistogram()
    if ttft.size:
        hist.add((ttft * 1e6).astype(np.int64))
    out: dict[str, Any] = {
        "ttft_ms": _pset(ttft),
        "tpot_ms": {k: v for k, v in lat.items() if k in ("mean", "std", "min", "max", "p50", "p90", "p95", "p99")},
        "tokens_per_s": {"decode": decode_tps, "end_to_end": e2e_tps},
        "prompt_tokens": prompt_tokens,
        "new_tokens": new_tokens,
        "batch": batch,
        "generations": generations,
        "tokens": generated,
        "decode_steps": decode_steps,
        "ttft_histogram": hist.to_dict() if ttft.size else None,
        "sampling": dict(sampling) if sampling else {"mode": "greedy"},
    }
    kv = next((r["kv_cache"] for r in reversed(rounds) if r.get("kv_cache")), None)
    if kv is not None:
        out["kv_cache_mb"] = kv.get("mb")
        out["kv_cache_source"] = kv.get("source")
    own = [m for r in rounds for m in r.get("engine_metrics", []) if "ttft_ms" in m]
    if own:
        own_ttft = float(np.mean([m["ttft_ms"] for m in own]))
        own_tpot = float(np.mean([m["tpot_ms"] for m in own]))
        ours_ttft = float(ttft.mean()) if ttft.size else None
        out["engine_timing"] = {
            "source": "openvino_genai perf_metrics (mean over the measured generations)",
            "ttft_ms": own_ttft,
            "tpot_ms": own_tpot,
            "ttft_ours_vs_engine": ours_ttft / own_ttft - 1.0 if ours_ttft and own_ttft else None,
            "tpot_ours_vs_engine": mean_tpot / own_tpot - 1.0 if mean_tpot and own_tpot else None,
        }
    return out


def token_parity(
    reference: Mapping[str, np.ndarray],
    outputs: Mapping[str, np.ndarray],
    *,
    precision: str,
    reference_label: str,
) -> dict[str, Any]:
    """Greedy token ids (``tokens``: one row per sequence of the batch) and the prompt's last-position logits
    (``prefill_logits``) of an engine against the reference's, sequence by sequence. ``status``: ``pass`` (every
    token of every sequence agrees), ``fail`` (a divergence at fp32), ``diverged`` (a divergence below fp32:
    expected, reported, no speedup shown). ``first_divergence``/``tokens_agree`` are the first sequence's; with a
    batch, ``sequences`` has each one's."""
    ref_rows = np.atleast_2d(np.asarray(reference.get("tokens", np.zeros((1, 0))), dtype=np.int64))
    got_rows = np.atleast_2d(np.asarray(outputs.get("tokens", np.zeros((1, 0))), dtype=np.int64))
    per = [_sequence_parity(r, g) for r, g in zip(ref_rows, got_rows)]
    if ref_rows.shape[0] != got_rows.shape[0]:
        per.append({"tokens_compared": 0, "tokens_agree": 0, "first_divergence": 0})  # a missing sequence
    first_seq = per[0] if per else {"tokens_compared": 0, "tokens_agree": 0, "first_divergence": None}
    out: dict[str, Any] = {"reference": reference_label, "kind": "tokens", **first_seq}
    if ref_rows.shape[0] > 1 or got_rows.shape[0] > 1:
        out["sequences"] = per
    rl, ol = reference.get("prefill_logits"), outputs.get("prefill_logits")
    if rl is not None and ol is not None and np.shape(rl) == np.shape(ol):
        r = np.asarray(rl, dtype=np.float64)
        o = np.asarray(ol, dtype=np.float64)
        denom = float(np.linalg.norm(r)) or 1.0
        out["rel_l2"] = float(np.linalg.norm(o - r) / denom)
        out["max_abs"] = float(np.max(np.abs(o - r)))
        top2 = np.sort(r)[-2:]
        out["reference_top2_gap"] = float(top2[1] - top2[0])
    bad = [i for i, p in enumerate(per) if p["first_divergence"] is not None]
    if not bad:
        out["status"] = "pass"
        what = f"all {out['tokens_agree']} greedy tokens" if len(per) == 1 else f"all {len(per)} sequences' tokens"
        out["message"] = f"{what} equal {reference_label}'s"
        return out
    out["status"] = "fail" if precision in EXACT_PRECISIONS else "diverged"
    i = bad[0]
    where = f"sequence {i} " if len(per) > 1 else ""
    p = per[i]
    out["message"] = (
        f"greedy tokens {where}diverge from {reference_label}'s at position {p['first_divergence']} "
        f"({p['tokens_agree']} of {p['tokens_compared']} agree"
        + (f"; {len(bad)} of {len(per)} sequences diverge" if len(per) > 1 else "")
        + ")"
        + ("" if precision in EXACT_PRECISIONS else f"; expected at {precision}: no speedup is shown")
    )
    return out


def _sequence_parity(ref: np.ndarray, got: np.ndarray) -> dict[str, Any]:
    n = int(min(ref.size, got.size))
    differ = np.nonzero(ref[:n] != got[:n])[0]
    first = int(differ[0]) if differ.size else (None if ref.size == got.size else n)
    return {
        "tokens_compared": int(max(ref.size, got.size)),
        "tokens_agree": n if first is None else first,
        "first_divergence": first,
    }


def sampled_parity(reference_label: str) -> dict[str, Any]:
    """The parity entry of a sampled generation (``--sample``): not compared. Each runtime draws with its own
    generator, so the same seed gives different tokens on different engines; no speedup rests on it."""
    return {
        "status": "skipped",
        "reference": reference_label,
        "kind": "tokens",
        "message": "sampled tokens (--sample) are not compared: each runtime draws with its own random generator, "
        "so token parity across engines is not claimed (the same engine with the same seed repeats its tokens)",
    }


__all__ = ["GEN_PERCENTILES", "sampled_parity", "summarise", "token_parity"]
