"""``workbench engines``, ``models`` and ``sysinfo``: what this machine can benchmark."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("engines", help="engines installed here, their versions and devices")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--quick", action="store_true", help="do not import engines to probe their devices")
    p.set_defaults(func=cmd_engines)

    p = sub.add_parser("models", help="built-in models")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("sysinfo", help="what this machine is: CPU, ISA flags, NUMA, memory, governor, GPUs")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_sysinfo)


def cmd_engines(args: argparse.Namespace) -> int:
    from workbench_engines.registry import engine_infos, probe

    infos = [i.to_dict() for i in engine_infos()]
    if not args.quick:
        for info in infos:
            if info["installed"]:
                devices, err = probe(info["name"])
                if devices is not None:
                    info["devices"] = list(devices)
                    info["note"] = None
                else:
                    info["note"] = f"probe failed: {err}"
    if args.json:
        print(json.dumps(infos, indent=2))
        return 0
    from workbench.report.text import table

    rows = [
        [
            i["name"],
            i["display_name"],
            i["version"] or "-",
            "yes" if i["installed"] else "no",
            ",".join(i["devices"]) or "-",
            ",".join(i["precisions"]),
            ",".join(i["formats"]),
            i["note"] or "",
        ]
        for i in infos
    ]
    print(table(["engine", "name", "version", "installed", "devices", "precisions", "formats", "note"], rows))
    return 0


def _model_entries() -> list[dict[str, Any]]:
    from workbench.models import zoo

    entries = []
    for name in zoo.names():
        m = zoo.get(name)
        entries.append(
            {
                "name": m.name,
                "task": m.task,
                "description": m.description,
                "params": m.params,
                "source": m.source,
                "outputs": list(m.outputs),
                "inputs": [t.to_dict() for t in m.input_specs(1)],
            }
        )
    return entries


def cmd_models(args: argparse.Namespace) -> int:
    models = _model_entries()
    if args.json:
        print(json.dumps(models, indent=2))
        return 0
    from workbench.models.zoo import human_count
    from workbench.report.text import table

    rows = []
    for d in models:
        inputs = " ".join(f"{i['name']}:{'x'.join(map(str, i['shape']))}" for i in d["inputs"])
        rows.append(
            [d["name"], d["task"], human_count(d["params"]) if d.get("params") else "-", inputs, d["description"]]
        )
    print(table(["model", "task", "params", "inputs (batch 1)", "description"], rows, align="llrll"))
    print("\nAlso: any .onnx, OpenVINO .xml (+.bin), TorchScript .pt or torch.export .pt2 file path.")
    return 0


def cmd_sysinfo(args: argparse.Namespace) -> int:
    from workbench.machine import sysinfo

    info = sysinfo.collect()
    print(json.dumps(info, indent=2, default=str) if args.json else sysinfo.format_table(info))
    return 0
