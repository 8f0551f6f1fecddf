"""The Hardware pane: what this machine is, and which cores are busy right now.

``HardwarePane.info`` takes :func:`workbench.machine.sysinfo.collect`'s dict, ``HardwarePane.engines`` the engine
inventory; :class:`CoreBars` shows per-CPU utilisation (fed by the app's 1 s timer) with the cores a run is pinned
to highlighted, so a user sees the pinned cores busy and the others quiet.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from workbench.tui.format import cpu_ranges
from workbench.tui.widgets import composed
from workbench.units import bytes_iec, percent

if TYPE_CHECKING:  # pragma: no cover
    from workbench_engines.base import EngineInfo

#: (label, any of these /proc/cpuinfo flags) — the ISA features that change what inference engines do.
ISA_HIGHLIGHTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AVX2", ("avx2",)),
    ("AVX-512", ("avx512f",)),
    ("VNNI", ("avx512_vnni", "avx_vnni")),
    ("BF16", ("avx512_bf16", "amx_bf16")),
    ("FP16", ("avx512_fp16",)),
    ("AMX", ("amx_tile", "amx_bf16", "amx_int8")),
)

_SPARK = " ▁▂▃▄▅▆▇█"
_EIGHTHS = " ▏▎▍▌▋▊▉█"


def isa_chips(flags: Mapping[str, Any] | None) -> list[tuple[str, bool]]:
    """``[(label, present), ...]`` for :data:`ISA_HIGHLIGHTS` from sysinfo's ``cpu.flags`` dict."""
    flags = flags or {}
    return [(label, any(bool(flags.get(f)) for f in keys)) for label, keys in ISA_HIGHLIGHTS]


def _plural(n: Any, word: str) -> str:
    if not isinstance(n, int):
        return f"? {word}s"
    return f"{n} {word}" + ("" if n == 1 else "s")


def summary_content(info: Mapping[str, Any] | None, engines: Iterable["EngineInfo"] = ()) -> Content:
    """The text of the Hardware pane (a few short lines; colours through theme variables only)."""
    muted = "$text-muted"
    if not info:
        return Content.assemble(("collecting machine information…", muted))
    cpu = info.get("cpu") or {}
    mem = info.get("memory") or {}
    numa = info.get("numa") or []
    freq = info.get("frequency") or {}
    virt = info.get("virtualisation") or {}
    smt = info.get("smt") or {}
    parts: list[Any] = []

    model = str(cpu.get("model") or "unknown CPU")
    parts += [(model, "bold")]
    if cpu.get("machine"):
        parts += [(f" · {cpu['machine']}", muted)]
    parts += ["\n"]

    sockets = cpu.get("sockets")
    topo = [
        _plural(sockets, "socket"),
        f"{cpu.get('physical_cores', '?')} cores / {cpu.get('logical_cpus', '?')} threads",
        f"{len(numa) or '?'} NUMA",
        f"{bytes_iec(mem.get('total_bytes'))} RAM",
    ]
    parts += [(" · ".join(topo), "")]
    parts += ["\n"]

    parts += [("ISA ", muted)]
    for i, (label, present) in enumerate(isa_chips(cpu.get("flags"))):
        if i:
            parts += [" "]
        parts += [(f" {label} ", "bold $background on $success") if present else (label, "$text-disabled strike")]
    parts += ["\n"]

    extra: list[str] = []
    governors = freq.get("governors") or {}
    if governors:
        extra.append("governor " + "/".join(sorted(governors)))
    if freq.get("turbo") is not None:
        extra.append("turbo " + ("on" if freq.get("turbo") else "off"))
    if smt.get("active") is not None:
        extra.append("SMT " + ("on" if smt.get("active") else "off"))
    container = virt.get("container")
    vm = virt.get("vm")
    if container:
        extra.append(str(container))
    elif vm:
        extra.append(f"VM {vm}")
    gpus = [str(g.get("name")) for g in info.get("gpus") or [] if isinstance(g, Mapping)]
    extra.append("GPU " + (", ".join(gpus) if gpus else "none"))
    parts += [(" · ".join(extra), muted)]

    engine_list = list(engines)
    parts += ["\n", ("Engines ", muted)]
    if not engine_list:
        versions = info.get("versions") or {}
        names = [(k, versions.get(k)) for k in ("torch", "onnxruntime", "openvino")]
        for i, (name, version) in enumerate(names):
            parts += [(" · " if i else "", muted), (name, "bold"), (f" {version or 'missing'}", muted)]
    for i, e in enumerate(engine_list):
        parts += [(" · " if i else "", muted)]
        if e.installed:
            parts += [(e.name, "bold"), (f" {e.version or '?'}", muted)]
        else:
            parts += [(e.name, "$error"), (" missing", "$error")]
    return Content.assemble(*parts)


class CoreBars(Widget):
    """Per-CPU utilisation: labelled bars when they fit, else one block character per CPU.

    Pinned (run) cores use ``$accent``, the core kept for the UI ``$secondary``, the others a muted colour.
    """

    DEFAULT_CSS = """
    CoreBars {
        height: auto;
        width: 1fr;
    }
    """

    cpus: reactive[tuple[int, ...]] = reactive((), layout=True)
    percents: reactive[tuple[float, ...]] = reactive(())
    pinned: reactive[frozenset[int]] = reactive(frozenset())
    reserved: reactive[frozenset[int]] = reactive(frozenset())
    running: reactive[bool] = reactive(False)

    BAR_WIDTH = 5

    def _label_width(self) -> int:
        return len(str(max(self.cpus))) if self.cpus else 1

    def _cell_width(self) -> int:
        return self._label_width() + 1 + self.BAR_WIDTH + 2

    def _labelled(self, width: int) -> bool:
        per_row = max(1, width // self._cell_width())
        return math.ceil(len(self.cpus) / per_row) <= 2

    def get_content_height(self, container, viewport, width: int) -> int:
        if not self.cpus:
            return 1
        width = max(1, width)
        if self._labelled(width):
            per_row = max(1, width // self._cell_width())
        else:
            per_row = width
        return math.ceil(len(self.cpus) / per_row) + 1

    def _style(self, cpu: int) -> str:
        if cpu in self.pinned:
            return "$accent"
        if cpu in self.reserved:
            return "$secondary"
        return "$text-muted"

    def _pct(self, cpu: int) -> float:
        if 0 <= cpu < len(self.percents):
            return max(0.0, min(100.0, float(self.percents[cpu])))
        return 0.0

    def render(self) -> Content:
        width = max(1, self.size.width)
        if not self.cpus:
            return Content.assemble(("no CPU information", "$text-muted"))
        parts: list[Any] = []
        if self._labelled(width):
            per_row = max(1, width // self._cell_width())
            lw = self._label_width()
            for i, cpu in enumerate(self.cpus):
                if i and i % per_row == 0:
                    parts.append("\n")
                style = self._style(cpu)
                pct = self._pct(cpu)
                eighths = int(round(pct / 100 * self.BAR_WIDTH * 8))
                full, rest = divmod(eighths, 8)
                bar = "█" * full + (_EIGHTHS[rest] if full < self.BAR_WIDTH else "")
                bar = bar.ljust(self.BAR_WIDTH)
                parts += [(f"{cpu:>{lw}} ", "$text-muted"), (bar, f"{style} on $panel"), ("  ", "")]
        else:
            for i, cpu in enumerate(self.cpus):
                if i and i % width == 0:
                    parts.append("\n")
                level = int(round(self._pct(cpu) / 100 * (len(_SPARK) - 1)))
                parts.append((_SPARK[level], f"{self._style(cpu)} on $panel"))
        parts.append("\n")
        parts += self._legend()
        return Content.assemble(*parts)

    def _legend(self) -> list[Any]:
        out: list[Any] = []
        if self.pinned:
            out += [("■ ", "$accent"), (("run " if self.running else "run on ") + cpu_ranges(self.pinned), "")]
        if self.reserved:
            out += [("  ■ ", "$secondary"), (f"UI {cpu_ranges(self.reserved)}", "")]
        shown = [self._pct(c) for c in self.cpus]
        if self.percents and shown:
            out += [(f"  avg {percent(sum(shown) / len(shown), decimals=0)}", "$text-muted")]
        if self.pinned and self.percents:
            busy = [self._pct(c) for c in self.cpus if c in self.pinned]
            if busy:
                out += [(f" · pinned {percent(sum(busy) / len(busy), decimals=0)}", "$text-muted")]
        return out


class HardwarePane(Vertical):
    """Machine summary plus live per-core utilisation."""

    DEFAULT_CSS = """
    HardwarePane {
        height: auto;
    }
    HardwarePane > #hw-summary {
        height: auto;
    }
    """

    info: reactive[dict[str, Any] | None] = reactive(None)
    engines: reactive[tuple["EngineInfo", ...]] = reactive(())

    def compose(self) -> ComposeResult:
        yield Static(summary_content(None), id="hw-summary")
        yield CoreBars(id="hw-cores")

    def on_mount(self) -> None:
        self.border_title = "Hardware"
        self._render_summary()

    def _render_summary(self) -> None:
        if composed(self):
            self.query_one("#hw-summary", Static).update(summary_content(self.info, self.engines))
            host = (self.info or {}).get("hostname")
            self.border_subtitle = str(host) if host else ""

    watch_info = watch_engines = _render_summary  # either one changes the summary

    @property
    def bars(self) -> CoreBars:
        return self.query_one(CoreBars)
