"""``workbench fleet``: sweeps submitted to a cluster with ``workbench sweep --on slurm`` (docs/fleet.md).

``fleet list`` the sweeps submitted from here; ``fleet status ID`` where each cell is (squeue/scontrol and the
result files); ``fleet collect ID`` the finished cells into the history, one record per machine (idempotent);
``fleet resubmit ID --failed`` only the failed cells again. ID is a sweep id, a unique prefix, or the sweep's
directory. Exit codes: 0 fine; 1 ``status`` with failed cells; 2 bad usage (unknown id, no Slurm here for a
resubmit).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from workbench.cli.args import RAW, add_command, add_switches
from workbench.units import json_safe

__all__ = ["register", "cmd_list", "cmd_status", "cmd_collect", "cmd_resubmit"]


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(json_safe(doc), indent=2, allow_nan=False, default=str) + "\n")


def cmd_list(args: argparse.Namespace) -> int:
    from workbench.cluster.fleet import list_submissions
    from workbench.report.fleet import render_list

    entries = list_submissions()
    if args.json:
        _print_json({"sweeps": entries})
    else:
        print(render_list(entries))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from workbench.cluster.fleet import load, status
    from workbench.report.fleet import render_status

    st = status(load(args.id))
    if args.json:
        _print_json(st.to_dict())
    else:
        print(render_status(st, show_done=not args.failed_only))
    return 1 if st.counts().get("failed") else 0


def cmd_collect(args: argparse.Namespace) -> int:
    from workbench.cluster.fleet import collect, load
    from workbench.report.fleet import render_collect
    from workbench.store.history import HistoryStore

    sub = load(args.id)
    store = HistoryStore(notice=lambda msg: print(f"warning: {msg}", file=sys.stderr))
    report = collect(sub, store)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(render_collect(report))
    return 0


def cmd_resubmit(args: argparse.Namespace) -> int:
    from workbench.cluster.fleet import load, resubmit_failed
    from workbench.errors import UsageError
    from workbench.report.fleet import render_resubmit

    if not args.failed:
        raise UsageError("say what to resubmit: --failed reruns the cells that failed (the only choice)")
    report = resubmit_failed(load(args.id), dry_run=args.dry_run)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(render_resubmit(report))
    return 0


_SWEEP_ID = "sweep id, unique prefix, or the sweep's fleet directory"
_JSON = ("--json", "machine-readable output")


def register(sub: Any) -> None:
    """Add ``fleet`` (list/status/collect/resubmit) to the main CLI's subparsers."""
    fleet = add_command(
        sub,
        "fleet",
        cmd_list,
        help="sweeps running on a cluster (Slurm): status, collect, resubmit failures",
        formatter_class=RAW,
        description="Follow sweeps submitted with `workbench sweep ... --on slurm --partition P1,P2`: every cell is "
        "one Slurm array task whose result lands in the sweep's fleet directory. See docs/fleet.md.",
        epilog="examples:\n"
        "  workbench sweep -m resnet50 -e onnxruntime,openvino --threads 1,8,32 --on slurm --partition a,b\n"
        "  workbench fleet status 3fa2c1\n"
        "  workbench fleet collect 3fa2c1        # finished cells into the history (again: no duplicates)\n"
        "  workbench fleet resubmit 3fa2c1 --failed\n"
        "  workbench compare --by machine -m resnet50",
    )
    fsub = fleet.add_subparsers(dest="fleet_command", metavar="COMMAND")
    fleet.set_defaults(json=False)

    p = add_command(fsub, "list", cmd_list, help="sweeps submitted from here, newest first")
    add_switches(p, _JSON)

    p = add_command(
        fsub,
        "status",
        cmd_status,
        help="where each cell of a sweep is (pending, running, done, failed and why)",
        description="Each cell on each partition: its Slurm task, node, state, p50 once done, and for a failure "
        "the scheduler's reason (time limit, node failure, preemption, cancellation, non-zero exit). "
        "Exits 1 when some cell failed.",
    )
    p.add_argument("id", metavar="ID", help=_SWEEP_ID)
    add_switches(p, ("--failed-only", "list only cells that are not done"), _JSON)

    p = add_command(
        fsub,
        "collect",
        cmd_collect,
        help="import finished cells into the history (one record per machine; idempotent)",
        description="Import the finished cells (and failed ones, as error rows) into the history: one sweep record "
        "per machine fingerprint, with the fingerprint of the node that ran it. Collecting again replaces those "
        "records (same run ids): no duplicates, and a partial collect grows as cells finish.",
    )
    p.add_argument("id", metavar="ID", help=_SWEEP_ID)
    add_switches(p, _JSON)

    p = add_command(
        fsub,
        "resubmit",
        cmd_resubmit,
        help="rerun the failed cells of a sweep",
        description="Submit the failed cells again: per partition one array job over exactly their indices, with "
        "the same script. Cells pending, running or done are left alone.",
    )
    p.add_argument("id", metavar="ID", help=_SWEEP_ID)
    add_switches(
        p,
        ("--failed", "rerun the cells that failed (required)"),
        ("--dry-run", "print the sbatch commands, submit nothing"),
        _JSON,
    )
