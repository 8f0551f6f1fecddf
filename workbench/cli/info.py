"""``workbench engines``, ``models`` and ``sysinfo``: what this machine can benchmark."""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench.cli.args import add_command, add_switches

_JSON = ("--json", "machine-readable output")


def register(sub: Any) -> None:
    p = add_command(sub, "engines", cmd_engines, help="engines installed here, their versions and devices")
    add_switches(
        p,
        _JSON,
        ("--quick", "do not import engines to probe their devices"),
        (
            "--options",
            "list the options each engine declares (for --engine-option ENGINE.NAME=VALUE); imports no engine",
        ),
    )
    add_switches(add_command(sub, "models", cmd_models, help="built-in models"), _JSON)
    p = add_command(
        sub, "sysinfo", cmd_sysinfo, help="what this machine is: CPU, ISA flags, NUMA, memory, governor, GPUs"
    )
    add_switches(p, _JSON)


def cmd_engine_options(args: argparse.Namespace) -> int:
    """``workbench engines --options``: every declared engine option, from the adapters' declarations."""
    from workbench_engines.registry import declared_options

    declared = declared_options()
    options = [{"engine": e, "option": f"{e}.{o.name}", **o.to_dict()} for e, o in declared]
    if args.json:
        print(json.dumps(options, indent=2))
        return 0
    if not options:
        print("no engine declares options")
        return 0
    from workbench.report.text import table

    rows = [
        [
            o["option"],
            "|".join(map(str, o["choices"]))
            or o["type"] + (f" >= {o['minimum']:g}" if o["minimum"] is not None else ""),
            opt.default_text(),
            " or ".join(o["modes"] + o["precisions"]) or "always",
            o["help"],
        ]
        for o, (_, opt) in zip(options, declared)
    ]
    print(table(["option", "value", "default", "applies", "help"], rows))
    print("\nGive them as --engine-option ENGINE.NAME=VALUE to workbench run or workbench parity.")
    return 0


def cmd_engines(args: argparse.Namespace) -> int:
    if args.options:
        return cmd_engine_options(args)
    from workbench.measure.probe import probe
    from workbench_engines.registry import engine_infos

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
    from workbench.units import MISSING

    rows = [
        [
            i["name"],
            i["display_name"],
            i["version"] or MISSING,
            "yes" if i["installed"] else "no",
            ",".join(i["devices"]) or MISSING,
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
    from workbench.models import generative

    for g in generative.GENERATIVE.values():  # causal LMs: --mode generate
        entries.append(
            {
                "name": g.name,
                "task": "text-generation",
                "description": g.description + " (--mode generate)",
                "params": g.params,
                "source": "transformers",
                "outputs": ["tokens"],
                "inputs": [{"name": "prompt", "shape": ["--prompt-tokens"]}],
            }
        )
    return entries


def cmd_models(args: argparse.Namespace) -> int:
    models = _model_entries()
    if args.json:
        print(json.dumps(models, indent=2))
        return 0
    from workbench.report.text import table
    from workbench.units import MISSING, count

    rows = []
    for d in models:
        inputs = " ".join(f"{i['name']}:{'x'.join(map(str, i['shape']))}" for i in d["inputs"])
        rows.append(
            [d["name"], d["task"], count(d["params"]) if d.get("params") else MISSING, inputs, d["description"]]
        )
    print(table(["model", "task", "params", "inputs (batch 1)", "description"], rows, align="llrll"))
    from workbench_engines.formats import describe_files

    print(f"\nAlso: any model file: {describe_files()}.")
    print(
        "--mode generate also reads folders: a Hugging Face causal LM (save_pretrained with its tokenizer), an "
        "OpenVINO GenAI folder, an ONNX Runtime GenAI folder."
    )
    return 0


def cmd_sysinfo(args: argparse.Namespace) -> int:
    from workbench.machine import sysinfo
    from workbench.report.sysinfo import format_table

    info = sysinfo.collect()
    print(json.dumps(info, indent=2, default=str) if args.json else format_table(info))
    return 0
