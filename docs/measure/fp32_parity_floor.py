"""How far apart do correct fp32 engines land? The measurements behind the fp32 parity tolerance
(docs/methodology.md, "Parity before speed").

    python docs/measure/fp32_parity_floor.py --out floor.json [--ocr-dir DIR] [--image text.png] [--builtins ...]

Each case is one ``workbench parity --json`` run (every engine's outputs on one seeded input against the reference,
in their own processes, as a user gets it); the script collects every output's relative L2 and largest absolute
difference, per engine. Cases:

* built-ins (seeded random weights): ``--builtins`` (default resnet18, mobilenet_v3_small, distilbert, ocr_crnn),
  torch / ONNX Runtime / OpenVINO against torch fp32;
* a DB-style text detector built here (a ResNet-style backbone with batch norm, an FPN that upsamples and adds
  four scales, the DB head: conv, BN, two transposed convs, a sigmoid probability map), seeded random weights with
  the batch-norm statistics of a trained network (running variances ≪ 1, so activations grow with depth as a real
  detector's do), exported to ONNX: ONNX Runtime against OpenVINO, at 640×640 on a generated input and on
  ``--image``;
* with ``--ocr-dir``: real PaddleOCR files published in PyPI packages (e.g. the ``models`` folder of the
  ``rapidocr-onnxruntime`` wheel: ``ch_PP-OCRv4_det_infer.onnx``, ``ch_PP-OCRv4_rec_infer.onnx``,
  ``ch_ppocr_mobile_v2.0_cls_infer.onnx``), each on a generated input and (the detector) on ``--image``.

Prints a table and writes every figure, the commands and the CPU model to ``--out``. Nothing is saved to the
history (``workbench parity`` never saves).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def db_detector(path: Path, seed: int = 0, *, upsample: str = "nearest", act: str = "relu") -> Path:
    """A DB-style text detector (DBNet / PP-OCR det architecture) with seeded weights, exported to ONNX (opset 17,
    dynamic height and width). ``upsample``/``act`` make the small wrong functions the tolerance must still catch
    (bilinear instead of nearest upsampling, ReLU6 instead of ReLU), with the same weights."""
    import torch
    from torch import nn

    torch.manual_seed(seed)

    def relu() -> nn.Module:
        return nn.ReLU6() if act == "relu6" else nn.ReLU()

    def block(cin: int, cout: int, stride: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
            relu(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
            relu(),
        )

    class DB(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = block(3, 16, 2)
            self.stages = nn.ModuleList([block(16, 24, 2), block(24, 48, 2), block(48, 96, 2), block(96, 192, 2)])
            self.lateral = nn.ModuleList([nn.Conv2d(c, 64, 1) for c in (24, 48, 96, 192)])
            self.smooth = nn.ModuleList([nn.Conv2d(64, 16, 3, 1, 1) for _ in range(4)])
            self.head = nn.Sequential(
                nn.Conv2d(64, 16, 3, 1, 1, bias=False),
                nn.BatchNorm2d(16),
                relu(),
                nn.ConvTranspose2d(16, 16, 2, 2),
                nn.BatchNorm2d(16),
                relu(),
                nn.ConvTranspose2d(16, 1, 2, 2),
                nn.Sigmoid(),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            feats, h = [], self.stem(x)
            for stage in self.stages:
                h = stage(h)
                feats.append(h)
            lat = [conv(f) for conv, f in zip(self.lateral, feats)]
            for i in range(3, 0, -1):
                lat[i - 1] = lat[i - 1] + nn.functional.interpolate(lat[i], scale_factor=2.0, mode=upsample)
            size = lat[0].shape[-2:]
            outs = [nn.functional.interpolate(s(v), size=size, mode=upsample) for s, v in zip(self.smooth, lat)]
            return self.head(torch.cat(outs, dim=1))

    model = DB().eval()
    with torch.no_grad():  # trained-network batch-norm statistics: small running variances, non-zero means
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_var.uniform_(0.05, 0.3)
                m.running_mean.normal_(0.0, 0.2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
    dummy = torch.randn(1, 3, 640, 640)
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        input_names=["x"],
        output_names=["maps"],
        dynamic_axes={"x": {2: "h", 3: "w"}, "maps": {2: "h", 3: "w"}},
        opset_version=17,
        dynamo=False,
    )
    return path


def wrong_functions(work: Path, seed: int) -> list[dict[str, Any]]:
    """Relative L2 of small wrong functions against the DB-style detector, all on ONNX Runtime (same weights, same
    seeded N(0, 1) input): what the fp32 tolerance must stay below."""
    import numpy as np
    import onnxruntime as ort

    x = np.random.default_rng(seed).standard_normal((1, 3, 640, 640), dtype=np.float32)

    def run(path: Path) -> Any:
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    base = run(work / "db_detector.onnx")
    out = []
    for label, kwargs in (("bilinear instead of nearest upsampling", {"upsample": "bilinear"}),
                          ("ReLU6 instead of ReLU", {"act": "relu6"})):  # fmt: skip
        other = run(db_detector(work / f"wrong-{len(out)}.onnx", seed, **kwargs))
        rel = float(np.linalg.norm(other.astype(np.float64) - base) / np.linalg.norm(base.astype(np.float64)))
        out.append({"change": label, "rel_l2": rel})
    return out


def parity(model: str, engines: str, extra: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, Any]]:
    cmd = ["workbench", "parity", "-m", model, "-e", engines, "--json", *extra]
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", *cmd[1:]], capture_output=True, text=True, env=env, timeout=900
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    return cmd, report


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="fp32_parity_floor.json")
    ap.add_argument("--builtins", default="resnet18,mobilenet_v3_small,distilbert,ocr_crnn")
    ap.add_argument("--ocr-dir", help="folder with PaddleOCR ONNX files (det/rec/cls)")
    ap.add_argument("--image", help="an image with text for the detectors (PNG/JPEG)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    env = dict(os.environ)
    cases: list[tuple[str, str, str, list[str]]] = []  # label, model, engines, extra args
    for name in filter(None, args.builtins.split(",")):
        cases.append((name, name, "torch,onnxruntime,openvino", []))
    work = Path(tempfile.mkdtemp(prefix="fp32-floor-"))
    det = db_detector(work / "db_detector.onnx", args.seed)
    shape = ["--shape", "x=1x3x640x640"]
    cases.append(("db-style detector (built here), generated input", str(det), "onnxruntime,openvino", shape))
    if args.image:
        cases.append(("db-style detector (built here), text image", str(det), "onnxruntime,openvino",
                      [*shape, "--input", f"x={args.image}"]))  # fmt: skip
    if args.ocr_dir:
        folder = Path(args.ocr_dir)
        ocr = {
            "ch_PP-OCRv4_det_infer.onnx": ["--shape", "x=1x3x640x640"],
            "ch_PP-OCRv4_rec_infer.onnx": ["--shape", "x=1x3x48x320"],
            "ch_ppocr_mobile_v2.0_cls_infer.onnx": ["--shape", "x=1x3x48x192"],
        }
        for file, extra in ocr.items():
            if (folder / file).is_file():
                cases.append((f"{file}, generated input", str(folder / file), "onnxruntime,openvino", extra))
                if args.image and "det" in file:
                    cases.append((f"{file}, text image", str(folder / file), "onnxruntime,openvino",
                                  [*extra, "--input", f"x={args.image}"]))  # fmt: skip
    rows, runs = [], []
    for label, model, engines, extra in cases:
        t0 = time.time()
        cmd, report = parity(model, engines, [*extra, "--seed", str(args.seed)], env)
        runs.append({"case": label, "command": " ".join(cmd), "seconds": round(time.time() - t0, 1), "report": report})
        for entry in report.get("engines", []):
            for out in (entry.get("parity") or {}).get("outputs") or []:
                if out.get("rel_l2") is None:
                    continue
                rows.append(
                    {
                        "case": label,
                        "engine": entry["engine"],
                        "reference": (entry.get("parity") or {}).get("reference"),
                        "output": out["name"],
                        "shape": out.get("shape"),
                        "rel_l2": out["rel_l2"],
                        "max_abs": out.get("max_abs"),
                    }
                )
        if "error" in report:
            print(f"{label}: {report['error']}", file=sys.stderr)
    width = max((len(r["case"]) for r in rows), default=10)
    print(f"{'case':<{width}}  {'engine':<11}  {'output':<28}  {'rel L2':>9}  {'max |Δ|':>9}")
    for r in rows:
        print(
            f"{r['case']:<{width}}  {r['engine']:<11}  {r['output'][:28]:<28}  {r['rel_l2']:9.2e}  {r['max_abs']:9.2e}"
        )
    worst = max((r["rel_l2"] for r in rows), default=None)
    print(f"worst rel L2: {worst:.2e}" if worst is not None else "no figures")
    wrong = wrong_functions(work, args.seed)
    for w in wrong:
        print(f"wrong function on the DB-style detector: {w['change']}: rel L2 {w['rel_l2']:.2e}")
    document = {"cpu": cpu_model(), "python": sys.version.split()[0], "rows": rows, "wrong": wrong, "runs": runs}
    Path(args.out).write_text(json.dumps(document, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
