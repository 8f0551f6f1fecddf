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

from workbench.errors import EngineUnavailable, closest

from .base import Engine, EngineInfo

BUILTIN_ADAPTERS: dict[str, str] = {
    "torch": "workbench_engines.torch_engine:TorchEngine",
    "onnxruntime": "workbench_engines.onnxruntime_engine:OnnxRuntimeEngine",
    "openvino": "workbench_engines.openvino_engine:OpenVinoEngine",
    "noop": "workbench_engines.noop_engine:NoopEngine",
}
ENTRY_POINT_GROUP = "inference_workbench.engines"
PLUGIN_ENV = "WORKBENCH_ENGINE_PLUGINS"
#: Friendly aliases accepted on the command line.
ALIASES = {"pytorch": "torch", "ort": "onnxruntime", "onnx": "onnxruntime", "ov": "openvino"}


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


def require(name: str, device: str = "cpu") -> type[Engine]:
    """The adapter class, checked to be installed. Raises EngineUnavailable with an install hint otherwise."""
    cls = get_engine_class(name)
    if not cls.is_installed():
        raise EngineUnavailable(f"engine {cls.name!r} is not installed: pip install {cls.distribution}")
    return cls


def probe(name: str, timeout: float = 90.0) -> tuple[tuple[str, ...] | None, str | None]:
    """Ask the engine itself which devices it sees, in a child process (an engine that crashes or hangs on
    import cannot take the caller with it). Returns ``(devices, None)`` or ``(None, one-line error)``."""
    import json
    import subprocess
    import sys

    code = (
        "import json,sys\nfrom workbench_engines.registry import get_engine_class\n"
        f"print(json.dumps(list(get_engine_class({name!r}).probe_devices())))"
    )
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"importing {name} took more than {timeout:g} s"
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
        return None, (lines[-1] if lines else f"exit code {proc.returncode}")
    try:
        return tuple(json.loads(proc.stdout.strip().splitlines()[-1])), None
    except (ValueError, IndexError):
        return None, "unreadable probe output"
