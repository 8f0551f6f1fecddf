"""Engine discovery without heavy imports.

Built-in adapters are listed here by import path; third-party adapters register through the entry-point group
``inference_workbench.engines`` (``name = "package.module:EngineClass"``) or, for tests and experiments, the
``WORKBENCH_ENGINE_PLUGINS`` environment variable (``"module:Class,module:Class"``). Importing this module imports
no engine package — adapter modules import their engine inside ``load``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from functools import lru_cache
from typing import Any, Iterable

from workbench.errors import EngineUnavailable, UsageError, closest

from .base import Engine, EngineInfo, EngineOption

BUILTIN_ADAPTERS: dict[str, str] = {
    "torch": "workbench_engines.torch_engine:TorchEngine",
    "onnxruntime": "workbench_engines.onnxruntime_engine:OnnxRuntimeEngine",
    "openvino": "workbench_engines.openvino_engine:OpenVinoEngine",
    "llamacpp": "workbench_engines.llamacpp_engine:LlamaCppEngine",
    "noop": "workbench_engines.noop_engine:NoopEngine",
}
ENTRY_POINT_GROUP = "inference_workbench.engines"
PLUGIN_ENV = "WORKBENCH_ENGINE_PLUGINS"
#: Friendly aliases accepted on the command line.
ALIASES = {
    "pytorch": "torch",
    "ort": "onnxruntime",
    "onnx": "onnxruntime",
    "ov": "openvino",
    "llama.cpp": "llamacpp",
    "llama-cpp": "llamacpp",
}


def _load_class(target: str) -> type[Engine]:
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Engine)):
        raise TypeError(f"{target} is not an Engine subclass")
    return cls


@lru_cache(maxsize=None)
def _adapter_targets() -> dict[str, str]:
    targets = dict(BUILTIN_ADAPTERS)
    try:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            targets.setdefault(ep.name, ep.value)
    except Exception:  # a broken third-party distribution must not break discovery
        pass
    return targets


def _plugin_targets() -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in os.environ.get(PLUGIN_ENV, "").split(","))):
        name = item.rpartition(":")[2].lower()
        cls = _load_class(item)
        out[getattr(cls, "name", name)] = item
    return out


def targets() -> dict[str, str]:
    return {**_adapter_targets(), **_plugin_targets()}


def engine_names(include_hidden: bool = False) -> list[str]:
    names = []
    for name in targets():
        if include_hidden or not get_engine_class(name).hidden:
            names.append(name)
    return names


def canonical(name: str) -> str:
    key = name.strip().lower()
    return ALIASES.get(key, key)


def get_engine_class(name: str) -> type[Engine]:
    """The adapter class for ``name`` (aliases accepted). Raises EngineUnavailable for unknown names."""
    key = canonical(name)
    table = targets()
    if key not in table:
        visible = [n for n in table if n != "noop"]
        hint = closest(key, visible)
        suggestion = f"did you mean {hint!r}? " if hint else ""
        raise EngineUnavailable(f"unknown engine {name!r}; {suggestion}known engines: {', '.join(visible)}")
    return _load_class(table[key])


def engine_infos(include_hidden: bool = False) -> list[EngineInfo]:
    """Cheap inventory of every engine: installed, version, likely devices. No engine is imported."""
    return [get_engine_class(n).info() for n in engine_names(include_hidden)]


def engine_classes(include_hidden: bool = False) -> list[type[Engine]]:
    """The adapter classes, in registry order (no engine package is imported)."""
    return [get_engine_class(n) for n in engine_names(include_hidden)]


def builtin_engine_classes(include_hidden: bool = False) -> list[type[Engine]]:
    """The built-in adapter classes only (a fallback for callers that must work when a plugin is broken)."""
    classes = [_load_class(target) for target in BUILTIN_ADAPTERS.values()]
    return [cls for cls in classes if include_hidden or not cls.hidden]


def declared_options(include_hidden: bool = False) -> list[tuple[str, EngineOption]]:
    """``(engine, option)`` for every option every engine declares, in registry then declaration order."""
    return [(cls.name, opt) for cls in engine_classes(include_hidden) for opt in cls.options]


#: An engine option as a run carries it: ``(engine, option name, value)``.
OptionItem = tuple[str, str, Any]


def check_engine_options(
    items: Iterable[OptionItem],
    *,
    engines: Iterable[str] | None = None,
    precision: str | None = None,
    mode: str | None = None,
    flag: str = "--engine-option",
) -> tuple[OptionItem, ...]:
    """Validate ``(engine, name, value)`` items against the engines' declarations: canonical engine names,
    values coerced to the declared types, the last value of a repeated option wins, order kept.

    Raises UsageError (one line, starting with ``flag`` and the option) for an unknown engine, an engine not in
    ``engines`` (when given: an option for an engine that does not run would be silently ignored), an unknown
    option (naming the valid ones), a bad value (saying what is expected) or an option that does not apply at
    ``precision`` / in ``mode``.
    """
    running = tuple(canonical(e) for e in engines) if engines is not None else None
    out: dict[tuple[str, str], Any] = {}
    for engine, name, value in items:
        label = f"{flag} {engine}.{name}"
        try:
            cls = get_engine_class(engine)
        except EngineUnavailable as exc:
            raise UsageError(f"{label}: {exc}") from None
        if running is not None and cls.name not in running:
            raise UsageError(f"{label}: {cls.name} is not among the engines of this run ({', '.join(running)})")
        try:
            checked = cls.check_options({name: value}, precision=precision, mode=mode)
        except UsageError as exc:
            raise UsageError(f"{flag} {exc}") from None
        out.pop((cls.name, name), None)
        out[(cls.name, name)] = checked[name]
    return tuple((engine, name, value) for (engine, name), value in out.items())


def options_by_engine(items: Iterable[OptionItem]) -> dict[str, dict[str, Any]]:
    """``{engine: {name: value}}`` of ``(engine, name, value)`` items, as results record them."""
    out: dict[str, dict[str, Any]] = {}
    for engine, name, value in items:
        out.setdefault(engine, {})[name] = value
    return out


def options_help(include_hidden: bool = False, width: int = 100) -> str:
    """The engine options as ``--help`` text (name, then what it does, its default and where it applies, wrapped to
    ``width``), generated from the declarations; empty when no engine declares any."""
    import textwrap

    lines = []
    for engine, opt in declared_options(include_hidden):
        key = f"{engine}.{opt.name}={opt.choices_text() or opt.type_name.upper()}"
        notes = [f"default: {opt.default_text()}"]
        if opt.scope():
            notes.append(opt.scope())
        text = f"{opt.help} ({'; '.join(notes)})" if opt.help else f"({'; '.join(notes)})"
        indent = " " * 28
        first = f"  {key:<25} " if len(key) <= 25 else f"  {key}\n{indent}"
        lines.append(textwrap.fill(text, width, initial_indent=first, subsequent_indent=indent))
    return "\n".join(lines)


def require(name: str, device: str = "cpu") -> type[Engine]:
    """The adapter class, checked to be installed. Raises EngineUnavailable with an install hint otherwise."""
    cls = get_engine_class(name)
    if not cls.is_installed():
        raise EngineUnavailable(f"engine {cls.name!r} is not installed: pip install {cls.distribution}")
    return cls
