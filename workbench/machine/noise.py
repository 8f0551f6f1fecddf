"""Measured noise, said out loud.

A benchmark number is only as good as the machine was quiet while it was taken. This module measures the noise
and turns it, and the system settings that cause it, into named warnings a user can act on
(``{"code": ..., "message": ...}`` dicts, the :class:`workbench.result.Warning_` shape).

* :class:`NoiseSampler` — a daemon thread the benchmark *parent* runs while the pinned child measures. It samples,
  for the pinned cores only: how busy each core was, how much of that was the benchmark itself and how much was
  *other* processes, hypervisor steal time, and the current clock frequency.
* ``warnings_from_noise`` / ``warnings_from_stats`` / ``system_warnings`` / ``pinning_warnings`` — thresholds
  turned into sentences with the fix in them.
* :func:`measure_harness_overhead` — what the timing loop itself costs per iteration.

How "other-process load" is estimated (and where it stops being exact)
---------------------------------------------------------------------
Every ``interval_s`` the sampler reads the per-CPU counters in ``/proc/stat`` (user, nice, system, irq, softirq,
idle, iowait, steal — kernel clock ticks) and, for every *attached* process (the benchmark child from
:meth:`NoiseSampler.set_child`, plus ``exclude_pids``), its CPU time from ``/proc/<pid>/stat`` and each thread's
CPU time and last CPU from ``/proc/<pid>/task/<tid>/stat``.

* busy(core)  = Δ(user + nice + system + irq + softirq) / Δtotal   — steal is reported separately, not as busy
* ours(core)  = Δ CPU time of the attached threads whose last CPU was that core (time of threads that exited during
  the interval is spread evenly over the pinned cores the process may use)
* other(core) = max(0, busy − ours)

Limits, stated plainly:

* Attribution is per interval and per thread's *last* CPU: a thread that migrated between pinned cores inside one
  interval is charged to the core it ended on. Per-core "other" can then be misplaced between pinned cores; the
  total over the pinned cores (``other_pct_total``) is unaffected.
* Counters tick at USER_HZ (usually 100 Hz): ±10 ms per core per interval. Averages over the whole run are computed
  from summed ticks, so this error shrinks with run length; per-interval peaks are coarser.
* Interrupt and softirq time is counted as busy and not as ours (the kernel does not charge it to a process), so
  heavy network/disk interrupts on the pinned cores show up as "other" — which is what they are for a benchmark.
* Processes the child itself spawns are not attached automatically (engines use threads, not processes).
* When an attached process exits inside an interval, that interval is dropped (its last CPU time cannot be read),
  and :meth:`NoiseSampler.set_child` starts a new interval (the time before is dropped), so no interval ever
  contains unattributed benchmark time.
* Without ``/proc`` (non-Linux) psutil's per-CPU times and the process total are used and the process's time is
  spread evenly over the pinned cores: right in total, wrong per core when the child uses fewer cores than pinned.

psutil's ``cpu_percent``/``cpu_times_percent`` are deliberately not used: they keep one interval state per process,
shared by every caller, so a second sampler (or the UI) calling them would corrupt our intervals.

Only the standard library, psutil and numpy are used.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

try:
    import psutil
except Exception:  # pragma: no cover
    psutil = None

from workbench.machine.cpus import format_cpu_list, parse_cpu_list
from workbench.result import Warning_

__all__ = [
    "NoiseReport",
    "NoiseSampler",
    "warnings_from_noise",
    "warnings_from_stats",
    "system_warnings",
    "pinning_warnings",
    "measure_harness_overhead",
    "BACKGROUND_LOAD_PCT",
    "STEAL_PCT",
    "FREQ_DRIFT",
    "FEW_SAMPLES",
    "LONG_TAIL_RATIO",
    "HIGH_CV",
]

#: other-process load (mean % of a pinned core over the run) from which "background-load" is raised
BACKGROUND_LOAD_PCT = 10.0
#: hypervisor steal (mean % over the pinned cores) from which "steal-time" is raised
STEAL_PCT = 2.0
#: relative frequency spread (max-min)/max on busy pinned cores from which "frequency-drift" is raised
FREQ_DRIFT = 0.10
#: fewer timed iterations than this raise "few-samples"
FEW_SAMPLES = 100
#: p99/p50 above this raises "long-tail"
LONG_TAIL_RATIO = 3.0
#: coefficient of variation above this raises "high-variance"
HIGH_CV = 0.10
#: a core counts as busy for frequency statistics when at least this fraction of the interval was busy
_BUSY_FOR_FREQ = 0.5


def _w(code: str, message: str) -> dict[str, str]:
    return Warning_(code, message).to_dict()


# =====================================================================================================================
# Report
# =====================================================================================================================


@dataclass
class NoiseReport:
    """What the pinned cores were doing during a run. Per-core lists are aligned with :attr:`cores`.

    Percentages are of one core's time (0-100). ``None`` means not measurable here (core absent, no steal counter,
    frequency not exposed).
    """

    cores: list[int]
    samples: int = 0  # intervals that went into the averages
    duration_s: float = 0.0  # wall time covered by those intervals
    interval_s: float = 0.25
    busy_pct: list[float | None] = field(default_factory=list)  # everything that ran there (excl. steal)
    ours_pct: list[float | None] = field(default_factory=list)  # the attached processes (benchmark child)
    other_pct: list[float | None] = field(default_factory=list)  # busy − ours, clamped at 0
    other_peak_pct: list[float | None] = field(default_factory=list)  # worst single interval
    other_pct_total: float | None = None  # over all pinned cores, in % of one core's time per core (mean)
    steal_pct: float | None = None  # mean over the pinned cores
    freq_mhz_min: float | None = None
    freq_mhz_mean: float | None = None
    freq_mhz_max: float | None = None
    freq_busy_only: bool = False  # frequency stats restricted to intervals where the core was busy
    attached_pids: list[int] = field(default_factory=list)
    dropped_intervals: int = 0
    method: str = "none"  # "per-thread" (Linux /proc) | "process-even" (psutil fallback) | "none"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "NoiseReport":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    def other_by_core(self) -> dict[int, float]:
        """``{core: other-process %}`` for the cores that could be measured."""
        return {c: v for c, v in zip(self.cores, self.other_pct) if v is not None}


# =====================================================================================================================
# Counter readers
# =====================================================================================================================


def _read_proc_stat(cores: set[int]) -> dict[int, tuple[int, int, int]] | None:
    """``{cpu: (busy, total, steal)}`` in clock ticks from /proc/stat (cpu numbers as the kernel names them)."""
    try:
        with open("/proc/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    out: dict[int, tuple[int, int, int]] = {}
    for line in data.split(b"\n"):
        if not line.startswith(b"cpu"):
            if out:
                break  # the per-cpu lines come first; stop at "intr"
            continue
        if line.startswith(b"cpu "):
            continue  # the all-CPU aggregate
        parts = line.split()
        try:
            cpu = int(parts[0][3:])
        except ValueError:
            continue
        if cpu not in cores:
            continue
        v = [int(x) for x in parts[1:11]] + [0] * (10 - len(parts[1:11]))
        user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
        busy = user + nice + system + irq + softirq  # guest time is already inside user/nice
        total = busy + idle + iowait + steal
        out[cpu] = (busy, total, steal)
    return out


def _read_psutil_stat(cores: set[int]) -> dict[int, tuple[float, float, float]] | None:
    if psutil is None:
        return None
    try:
        per = psutil.cpu_times(percpu=True)
    except Exception:
        return None
    out: dict[int, tuple[float, float, float]] = {}
    for cpu in cores:
        if cpu >= len(per):
            continue
        t = per[cpu]
        idle = getattr(t, "idle", 0.0) + getattr(t, "iowait", 0.0)
        steal = getattr(t, "steal", 0.0)
        busy = sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "interrupt", "dpc"))
        out[cpu] = (busy, busy + idle + steal, steal)
    return out


def _parse_task_stat(data: bytes) -> tuple[int, int] | None:
    """``(utime + stime, last cpu)`` from a /proc/<pid>[/task/<tid>]/stat line."""
    rp = data.rfind(b")")
    if rp < 0:
        return None
    rest = data[rp + 2 :].split()
    try:
        # rest[0] is field 3 (state); utime=14, stime=15, processor=39
        return int(rest[11]) + int(rest[12]), int(rest[36])
    except (IndexError, ValueError):
        return None


def _read_proc_times(pid: int) -> tuple[int, dict[int, tuple[int, int]]] | None:
    """``(process ticks, {tid: (ticks, last_cpu)})`` for a live process; None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    rp = data.rfind(b")")
    if rp < 0 or data[rp + 2 : rp + 3] in (b"Z", b"X"):
        return None
    whole = _parse_task_stat(data)
    if whole is None:
        return None
    threads: dict[int, tuple[int, int]] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        tids = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as fh:
                t = _parse_task_stat(fh.read())
        except OSError:
            continue  # thread exited between listdir and open: its time shows up as leftover
        if t is not None:
            threads[int(tid)] = t
    return whole[0], threads


def _read_psutil_proc(pid: int) -> tuple[float, dict[int, tuple[float, int]]] | None:
    if psutil is None:
        return None
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return None
        t = p.cpu_times()
        return t.user + t.system, {}
    except Exception:
        return None


def _read_freq_khz(cores: Sequence[int]) -> dict[int, float]:
    out: dict[int, float] = {}
    for cpu in cores:
        try:
            with open(f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_cur_freq", "rb") as fh:
                out[cpu] = int(fh.read().strip()) / 1000.0
        except (OSError, ValueError):
            continue
    return out


# =====================================================================================================================
# Sampler
# =====================================================================================================================


@dataclass
class _Attached:
    pid: int
    allowed: list[int]  # pinned cores this process may run on
    total: float = 0.0
    threads: dict[int, float] = field(default_factory=dict)


class NoiseSampler:
    """Sample load on the pinned ``cores`` while a benchmark child runs (see the module docstring for the method).

    Use as a context manager or with :meth:`start` / :meth:`stop`::

        with NoiseSampler(cores=[0, 1, 2, 3]) as sampler:
            child = spawn_benchmark(...)
            sampler.set_child(child.pid)
            ...
        report = sampler.report

    ``exclude_pids`` are processes counted as "ours" (never as other load) besides the child — e.g. the parent's
    own pid when it shares the pinned cores. The sampling thread is a daemon, sleeps on an Event between samples
    and stops within one file-read of :meth:`stop`. All methods are thread-safe.
    """

    def __init__(
        self,
        cores: Iterable[int],
        interval_s: float = 0.25,
        exclude_pids: Iterable[int] | None = None,
    ) -> None:
        core_list = sorted({int(c) for c in cores})
        if not core_list:
            raise ValueError("NoiseSampler needs at least one core to watch")
        if core_list[0] < 0:
            raise ValueError(f"invalid core {core_list[0]}: CPU numbers are non-negative")
        if not interval_s > 0:
            raise ValueError(f"interval_s must be positive, not {interval_s!r}")
        self.cores = core_list
        self.interval_s = float(interval_s)
        self._core_set = set(core_list)
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        self._stopped = False
        self.report: NoiseReport | None = None

        if _read_proc_stat(self._core_set) is not None:
            self._stat_reader: Callable[[set[int]], Any] = _read_proc_stat
            self._proc_reader: Callable[[int], Any] = _read_proc_times
            self.method = "per-thread"
        else:
            self._stat_reader = _read_psutil_stat
            self._proc_reader = _read_psutil_proc
            self.method = "process-even"

        self._pending_pids: set[int] = {int(p) for p in (exclude_pids or ())}
        self._attached: dict[int, _Attached] = {}
        self._gone: set[int] = set()
        self._reset_accumulators()

    # ---- public API ----------------------------------------------------------------------------------------------
    def __enter__(self) -> "NoiseSampler":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "NoiseSampler":
        """Take the first reading and start the sampling thread. Idempotent."""
        with self._lock:
            if self._started:
                return self
            self._started = True
            for pid in sorted(self._pending_pids):
                self._attach_locked(pid)
            self._pending_pids.clear()
            self._baseline_locked()
        self._thread = threading.Thread(target=self._loop, name="workbench-noise-sampler", daemon=True)
        self._thread.start()
        return self

    def set_child(self, pid: int) -> None:
        """Attach the benchmark child: its CPU time counts as ours, not as other load.

        Starts a new interval (the time since the previous sample is dropped) so no interval mixes unattributed
        child time into "other". May be called before :meth:`start`.
        """
        self.attach(pid)

    def attach(self, pid: int) -> None:
        """Count ``pid``'s CPU time as ours (as :meth:`set_child`; several may be attached)."""
        pid = int(pid)
        with self._lock:
            if not self._started:
                self._pending_pids.add(pid)
                return
            if pid in self._attached:
                return
            self._attach_locked(pid)
            self._baseline_locked()

    def latest(self) -> dict[str, Any] | None:
        """The last interval, for live display: ``{"busy_pct": {core: %}, "other_pct": {core: %}, "steal_pct": %}``."""
        with self._lock:
            return None if self._latest is None else dict(self._latest)

    def stop(self) -> NoiseReport:
        """Stop sampling (taking a last partial sample) and return the :class:`NoiseReport` (also :attr:`report`)."""
        with self._lock:
            if self._stopped and self.report is not None:
                return self.report
        self._stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=max(2.0, 4 * self.interval_s))
        with self._lock:
            if self._started and not self._stopped and time.monotonic() - self._last_t >= 0.02:
                self._sample_locked()
            self._stopped = True
            self.report = self._build_report()
            return self.report

    # ---- internals -----------------------------------------------------------------------------------------------
    def _reset_accumulators(self) -> None:
        self._busy = {c: 0.0 for c in self.cores}
        self._ours = {c: 0.0 for c in self.cores}
        self._total = {c: 0.0 for c in self.cores}
        self._steal = {c: 0.0 for c in self.cores}
        self._other_peak: dict[int, float] = {}
        self._seen_cores: set[int] = set()
        self._freqs: list[tuple[float, bool]] = []
        self._samples = 0
        self._dropped = 0
        self._duration = 0.0
        self._latest: dict[str, Any] | None = None
        self._last_t = time.monotonic()
        self._last_stat: dict[int, tuple[float, float, float]] | None = None

    def _attach_locked(self, pid: int) -> None:
        try:
            allowed = sorted(self._core_set & os.sched_getaffinity(pid))
        except (AttributeError, OSError):
            allowed = list(self.cores)
        self._attached[pid] = _Attached(pid=pid, allowed=allowed or list(self.cores))
        self._gone.discard(pid)

    def _baseline_locked(self) -> None:
        self._last_t = time.monotonic()
        self._last_stat = self._stat_reader(self._core_set)
        for pid, att in list(self._attached.items()):
            cur = self._proc_reader(pid)
            if cur is None:
                self._detach_locked(pid)
                continue
            att.total = cur[0]
            att.threads = {tid: ticks for tid, (ticks, _cpu) in cur[1].items()}

    def _detach_locked(self, pid: int) -> None:
        self._attached.pop(pid, None)
        self._gone.add(pid)

    def _loop(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            with self._lock:
                if self._stopped:
                    return
                try:
                    self._sample_locked()
                except Exception:  # a sampler must never take the benchmark down
                    self._dropped += 1
                    try:
                        self._baseline_locked()
                    except Exception:
                        pass

    def _sample_locked(self) -> None:
        now = time.monotonic()
        stat = self._stat_reader(self._core_set)
        prev_stat = self._last_stat
        ours = {c: 0.0 for c in self.cores}
        drop = stat is None or prev_stat is None
        new_states: dict[int, tuple[float, dict[int, float]]] = {}
        for pid, att in list(self._attached.items()):
            cur = self._proc_reader(pid)
            if cur is None:  # exited inside this interval: its last CPU time is unknowable -> drop the interval
                self._detach_locked(pid)
                drop = True
                continue
            total, threads = cur
            thread_sum = 0.0
            for tid, (ticks, cpu) in threads.items():
                delta = ticks - att.threads.get(tid, 0)
                if delta <= 0:
                    continue
                thread_sum += delta
                if cpu in ours:
                    ours[cpu] += delta
            leftover = (total - att.total) - thread_sum  # exited threads, or no per-thread data
            if leftover > 0 and att.allowed:
                share = leftover / len(att.allowed)
                for c in att.allowed:
                    ours[c] += share
            new_states[pid] = (total, {tid: ticks for tid, (ticks, _cpu) in threads.items()})

        for pid, (total, threads_now) in new_states.items():
            attached = self._attached.get(pid)
            if attached is not None:
                attached.total, attached.threads = total, threads_now
        self._last_stat = stat
        elapsed = now - self._last_t
        self._last_t = now
        if drop:
            self._dropped += 1
            return

        assert stat is not None and prev_stat is not None
        freqs = _read_freq_khz(self.cores)
        latest_busy: dict[int, float] = {}
        latest_other: dict[int, float] = {}
        steal_num = steal_den = 0.0
        for c in self.cores:
            if c not in stat or c not in prev_stat:
                continue
            d_busy = stat[c][0] - prev_stat[c][0]
            d_total = stat[c][1] - prev_stat[c][1]
            d_steal = stat[c][2] - prev_stat[c][2]
            if d_total <= 0:
                continue
            self._seen_cores.add(c)
            self._busy[c] += d_busy
            self._ours[c] += ours[c]
            self._total[c] += d_total
            self._steal[c] += d_steal
            steal_num += d_steal
            steal_den += d_total
            busy_pct = 100.0 * d_busy / d_total
            other_pct = 100.0 * max(0.0, d_busy - ours[c]) / d_total
            latest_busy[c] = round(min(100.0, busy_pct), 1)
            latest_other[c] = round(min(100.0, other_pct), 1)
            self._other_peak[c] = max(self._other_peak.get(c, 0.0), min(100.0, other_pct))
            if c in freqs:
                self._freqs.append((freqs[c], d_busy / d_total >= _BUSY_FOR_FREQ))
        self._samples += 1
        self._duration += elapsed
        self._latest = {
            "busy_pct": latest_busy,
            "other_pct": latest_other,
            "steal_pct": round(100.0 * steal_num / steal_den, 2) if steal_den else None,
        }

    def _build_report(self) -> NoiseReport:
        busy: list[float | None] = []
        ours: list[float | None] = []
        other: list[float | None] = []
        peak: list[float | None] = []
        other_sum = total_sum = steal_sum = 0.0
        for c in self.cores:
            tot = self._total[c]
            if c not in self._seen_cores or tot <= 0:
                busy.append(None)
                ours.append(None)
                other.append(None)
                peak.append(None)
                continue
            b = self._busy[c]
            o = min(self._ours[c], b)
            busy.append(round(min(100.0, 100.0 * b / tot), 2))
            ours.append(round(min(100.0, 100.0 * o / tot), 2))
            other.append(round(min(100.0, 100.0 * (b - o) / tot), 2))
            peak.append(round(self._other_peak.get(c, 0.0), 2))
            other_sum += max(0.0, b - self._ours[c])
            total_sum += tot
            steal_sum += self._steal[c]
        steal_pct: float | None = None
        if total_sum > 0 and (self.method == "per-thread" or _has_steal_field()):
            steal_pct = round(100.0 * steal_sum / total_sum, 2)

        freq_min = freq_mean = freq_max = None
        busy_only = False
        if self._freqs:
            sel = [f for f, is_busy in self._freqs if is_busy]
            busy_only = bool(sel)
            if not sel:
                sel = [f for f, _ in self._freqs]
            freq_min, freq_mean, freq_max = round(min(sel), 1), round(float(np.mean(sel)), 1), round(max(sel), 1)

        return NoiseReport(
            cores=list(self.cores),
            samples=self._samples,
            duration_s=round(self._duration, 3),
            interval_s=self.interval_s,
            busy_pct=busy,
            ours_pct=ours,
            other_pct=other,
            other_peak_pct=peak,
            other_pct_total=round(100.0 * other_sum / total_sum, 2) if total_sum > 0 else None,
            steal_pct=steal_pct,
            freq_mhz_min=freq_min,
            freq_mhz_mean=freq_mean,
            freq_mhz_max=freq_max,
            freq_busy_only=busy_only,
            attached_pids=sorted(set(self._attached) | self._gone),
            dropped_intervals=self._dropped,
            method=self.method if self._samples else "none",
        )


def _has_steal_field() -> bool:
    if psutil is None:
        return False
    try:
        return hasattr(psutil.cpu_times(), "steal")
    except Exception:
        return False


# =====================================================================================================================
# Warnings
# =====================================================================================================================


def _pct(v: float) -> str:
    return f"{v:.0f}%" if v >= 10 else f"{v:.1f}%"


def warnings_from_noise(
    report: NoiseReport | Mapping[str, Any] | None,
    *,
    background_pct: float = BACKGROUND_LOAD_PCT,
    steal_pct: float = STEAL_PCT,
    freq_drift: float = FREQ_DRIFT,
) -> list[dict[str, str]]:
    """Warnings from a :class:`NoiseReport` (or its dict): "background-load", "steal-time", "frequency-drift"."""
    if report is None:
        return []
    if not isinstance(report, NoiseReport):
        report = NoiseReport.from_dict(report)
    out: list[dict[str, str]] = []
    if not report.samples:
        return out

    loaded = sorted(((c, v) for c, v in report.other_by_core().items() if v >= background_pct), key=lambda cv: -cv[1])
    if loaded:
        parts = [f"{_pct(v)} of core {c}" for c, v in loaded[:4]]
        if len(loaded) > 4:
            parts.append(f"and {len(loaded) - 4} more core(s)")
        quiet = [c for c, v in report.other_by_core().items() if v < background_pct]
        hint = "stop them or pin elsewhere with --cores"
        out.append(
            _w(
                "background-load",
                f"other processes used {', '.join(parts)} during the run: {hint}"
                + (f" (quiet pinned cores: {format_cpu_list(quiet)})" if quiet else ""),
            )
        )

    if report.steal_pct is not None and report.steal_pct >= steal_pct:
        out.append(
            _w(
                "steal-time",
                f"the hypervisor stole {_pct(report.steal_pct)} of CPU time (shared VM): numbers may not be "
                "reproducible; use a dedicated/bare-metal instance for numbers you publish",
            )
        )

    fmin, fmax = report.freq_mhz_min, report.freq_mhz_max
    if fmin is not None and fmax and fmax > 0 and (fmax - fmin) / fmax > freq_drift:
        out.append(
            _w(
                "frequency-drift",
                f"the pinned cores' clock varied from {fmin:.0f} to {fmax:.0f} MHz "
                f"({100 * (fmax - fmin) / fmax:.0f}%) during the run: set the performance governor "
                "(sudo cpupower frequency-set -g performance) and consider disabling turbo for stable numbers",
            )
        )
    return out


def warnings_from_stats(
    iterations: int | None,
    p50_ms: float | None,
    p99_ms: float | None,
    cv: float | None,
    duration_s: float | None = None,
    *,
    few_samples: int = FEW_SAMPLES,
    long_tail: float = LONG_TAIL_RATIO,
    high_cv: float = HIGH_CV,
) -> list[dict[str, str]]:
    """Warnings from a run's statistics: "few-samples", "long-tail", "high-variance"."""
    out: list[dict[str, str]] = []
    if iterations is not None and iterations < few_samples:
        during = f" in {duration_s:.1f} s" if duration_s else ""
        out.append(
            _w(
                "few-samples",
                f"only {iterations} iteration{'s' if iterations != 1 else ''}{during}: percentiles are rough; "
                f"widen --duration (or raise --iterations) to get at least {few_samples}",
            )
        )
    if p50_ms and p99_ms is not None and p50_ms > 0 and p99_ms / p50_ms > long_tail:
        out.append(
            _w(
                "long-tail",
                f"p99 is {p99_ms / p50_ms:.1f}× p50 ({p99_ms:.3g} ms vs {p50_ms:.3g} ms): some iterations were much "
                "slower (background load, page faults, thermal or memory effects); check the histogram and the "
                "noise warnings, and report p99 alongside the median",
            )
        )
    if cv is not None and cv > high_cv:
        out.append(
            _w(
                "high-variance",
                f"latency varies a lot (coefficient of variation {100 * cv:.0f}%): close other programs, pin with "
                "--cores, set the performance governor, or run longer",
            )
        )
    return out


def _on(cpus: Iterable[int], core_set: set[int] | None) -> list[int]:
    return [c for c in cpus if core_set is None or c in core_set]


def _governor_warning(freq: Mapping[str, Any], core_set: set[int] | None) -> dict[str, str] | None:
    governors: Mapping[str, list[int]] = freq.get("governors") or {}
    bad = {g: _on(cpus, core_set) for g, cpus in governors.items() if g != "performance"}
    bad = {g: cpus for g, cpus in bad.items() if cpus}
    if not bad:
        return None
    desc = "; ".join(f"{g} on core{'s' if len(cpus) > 1 else ''} {format_cpu_list(cpus)}" for g, cpus in bad.items())
    epp = (freq.get("energy_performance_preference") or {}).items()
    epp_txt = ", ".join(p for p, cpus in epp if p != "performance" and _on(cpus, core_set))
    return _w(
        "governor",
        f"governor is {desc}"
        + (f" (energy_performance_preference: {epp_txt})" if epp_txt else "")
        + ": set performance for stable numbers: sudo cpupower frequency-set -g performance",
    )


def _turbo_warning(freq: Mapping[str, Any]) -> dict[str, str] | None:
    if freq.get("turbo") is not True:
        return None
    src = freq.get("turbo_source") or ""
    if "intel_pstate" in src:
        cmd = "echo 1 | sudo tee /sys/devices/system/cpu/intel_pstate/no_turbo"
    elif src == "cpufreq/boost":
        cmd = "echo 0 | sudo tee /sys/devices/system/cpu/cpufreq/boost"
    else:
        cmd = "echo 0 | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/boost"
    return _w(
        "turbo",
        "turbo boost is on: the clock depends on temperature and on how many cores are busy, so runs can "
        f"differ by 10% or more; for reproducible numbers disable it ({cmd}), for peak numbers keep it "
        "and say so",
    )


def _smt_warning(info: Mapping[str, Any], core_set: set[int] | None) -> dict[str, str] | None:
    if not core_set:
        return None
    pairs = []
    for group in (info.get("cpu") or {}).get("smt_siblings") or []:
        try:
            members = [c for c in parse_cpu_list(group) if c in core_set]
        except ValueError:
            continue
        if len(members) > 1:
            pairs.append(members)
    if not pairs:
        return None
    shown = "; ".join(" and ".join(str(c) for c in m) for m in pairs[:3])
    more = f" (+{len(pairs) - 3} more pairs)" if len(pairs) > 3 else ""
    return _w(
        "smt-siblings",
        f"cores {shown}{more} are hyperthreads of one physical core: they share its execution units, "
        "so threads on them slow each other down; pin one thread per physical core (see "
        "`workbench sysinfo`) unless you mean to measure SMT",
    )


def _vm_warning(info: Mapping[str, Any]) -> dict[str, str] | None:
    vm = (info.get("virtualisation") or {}).get("vm")
    if not vm:
        return None
    return _w(
        "virtualised",
        f"running in a virtual machine ({vm}): the hypervisor and other tenants can take CPU time "
        "and vCPUs may not map to fixed physical cores; watch for steal-time warnings and compare only "
        "with runs on the same instance type",
    )


def _quota_warning(info: Mapping[str, Any], core_set: set[int] | None) -> dict[str, str] | None:
    quota = (info.get("cgroup") or {}).get("cpu_quota")
    used = len(core_set) if core_set else len(info.get("affinity") or [])
    if not (quota and used and quota < used):
        return None
    return _w(
        "cpu-quota",
        f"this container's cgroup allows {quota:g} CPUs of time but {used} cores are in use: threads beyond "
        f"the quota are throttled in bursts (long tails); use --cores/--threads within {int(quota) or 1} "
        "or raise the container's CPU limit",
    )


def system_warnings(info: Mapping[str, Any] | None, cores: Iterable[int] | None = None) -> list[dict[str, str]]:
    """Warnings from :func:`workbench.machine.sysinfo.collect` about settings that make numbers drift.

    Codes: "governor", "turbo", "smt-siblings" (only when ``cores`` pins two hyperthreads of one physical core),
    "virtualised", "cpu-quota". ``cores`` restricts the per-core checks to the cores the run uses.
    """
    if not info:
        return []
    core_set = set(cores) if cores is not None else None
    freq = info.get("frequency") or {}
    found = (
        _governor_warning(freq, core_set),
        _turbo_warning(freq),
        _smt_warning(info, core_set),
        _vm_warning(info),
        _quota_warning(info, core_set),
    )
    return [w for w in found if w is not None]


def pinning_warnings(
    cores: Sequence[int] | None,
    threads: int | None,
    affinity: Iterable[int] | None = None,
) -> list[dict[str, str]]:
    """Warnings about a pinning request: "oversubscribed" (threads > cores), "cores-unavailable" (cores outside
    this process's CPU affinity; ``affinity`` defaults to ``os.sched_getaffinity(0)``)."""
    out: list[dict[str, str]] = []
    if not cores:
        return out
    cores = sorted(set(cores))
    if threads is not None and threads > len(cores):
        out.append(
            _w(
                "oversubscribed",
                f"{threads} threads on {len(cores)} core{'s' if len(cores) > 1 else ''} ({format_cpu_list(cores)}): "
                f"threads will time-share cores and latency gets noisy; use --threads {len(cores)} or give more "
                "--cores",
            )
        )
    if affinity is None:
        try:
            affinity = os.sched_getaffinity(0)
        except (AttributeError, OSError):
            affinity = None
    if affinity is not None:
        allowed = set(affinity)
        missing = [c for c in cores if c not in allowed]
        if missing:
            out.append(
                _w(
                    "cores-unavailable",
                    f"core{'s' if len(missing) > 1 else ''} {format_cpu_list(missing)} "
                    f"{'are' if len(missing) > 1 else 'is'} not in this process's CPU affinity "
                    f"({format_cpu_list(allowed) or 'empty'}): the benchmark cannot run there; pick --cores from "
                    f"{format_cpu_list(allowed)} (limits come from taskset, cgroups or the container)",
                )
            )
    return out


# =====================================================================================================================
# Harness overhead
# =====================================================================================================================


def _noop() -> None:
    return None


def measure_harness_overhead(n: int = 200_000, fn: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Time an empty call inside the benchmark's loop shape; returns per-iteration overhead in ns.

    The loop is the one the benchmark child uses around ``infer()``::

        t0 = perf_counter_ns(); fn(); t1 = perf_counter_ns(); append(t1 - t0)

    so ``median_ns`` is what every recorded latency carries on top of the engine call (timer reads + one Python
    call). Returns ``{"n", "median_ns", "mean_ns", "p99_ns", "min_ns", "max_ns", "timer_resolution_ns",
    "loop_ns_per_iter"}`` (the last: wall time of the whole loop per iteration, including the append).
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    call = fn or _noop
    perf = time.perf_counter_ns
    samples: list[int] = []
    append = samples.append
    start = perf()
    for _ in range(n):
        t0 = perf()
        call()
        t1 = perf()
        append(t1 - t0)
    wall = perf() - start
    arr = np.asarray(samples, dtype=np.int64)
    return {
        "n": n,
        "median_ns": float(np.median(arr)),
        "mean_ns": round(float(arr.mean()), 1),
        "p99_ns": float(np.percentile(arr, 99)),
        "min_ns": int(arr.min()),
        "max_ns": int(arr.max()),
        "timer_resolution_ns": time.get_clock_info("perf_counter").resolution * 1e9,
        "loop_ns_per_iter": round(wall / n, 1),
    }
