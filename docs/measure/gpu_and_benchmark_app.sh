#!/bin/bash
# Run on a lent GPU machine from the repo root with the wheels in .whl/ (openvino, openvino-telemetry, tinydb):
# CUDA paths (torch fp32/fp16/bf16, ONNX Runtime CUDA provider) and OpenVINO vs benchmark_app on the same IR.
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
ln -sfn $PWD/engines /tmp/site/workbench_engines && ln -sfn $PWD/themes /tmp/site/workbench_themes
export PYTHONPATH=$PWD:/tmp/site WORKBENCH_HOME=/tmp/wbh
BA() { python3 -c 'import sys; from openvino.tools.benchmark.main import main; sys.argv[0]="benchmark_app"; sys.exit(main())' "$@"; }
echo "== torch cuda fp32 (TF32 off) parity + run"
python3 -m workbench parity -m resnet18 -e torch --device cuda 2>&1
python3 -m workbench run -m resnet50 -e torch --device cuda --duration 3 --json $OUT/cuda_fp32.json 2>&1 | head -4
python3 -m workbench run -m resnet50 -e torch --device cuda --precision fp16 --duration 3 --no-save 2>&1 | head -4
python3 -m workbench run -m resnet50 -e torch --device cuda --precision bf16 --batch 8 --mode throughput --duration 3 --no-save 2>&1 | head -4
echo "== cpu: 3 engines resnet50 on 4 cores, AMX machine, fp32 and bf16"
python3 -m workbench run -m resnet50 -e torch,onnxruntime,openvino --cores 4-7 --duration 5 --no-save 2>&1 | head -8
python3 -m workbench run -m resnet50 -e torch,openvino --precision bf16 --cores 4-7 --duration 5 --no-save 2>&1 | head -10
XML=$(python3 -c "from workbench.models import resolve; print(resolve('resnet50', formats={'openvino'}).files['openvino'])")
echo "== OpenVINO latency: workbench vs benchmark_app, cores 4-7, alternating"
for i in 1 2 3; do
  python3 -m workbench run -m resnet50 -e openvino --cores 4-7 --duration 15 --warmup 2s --no-parity --no-save --json $OUT/wb_lat_$i.json -q >/dev/null 2>&1
  taskset -c 4-7 bash -c "$(declare -f BA); BA -m $XML -d CPU -hint latency -infer_precision f32 -t 15" 2>&1 | grep -E "Median:|Average:|Throughput:|Count:" | tr '\n' ' '; echo " <- ba_lat_$i"
done
echo "== OpenVINO throughput"
for i in 1 2; do
  python3 -m workbench run -m resnet50 -e openvino --cores 4-7 --mode throughput --duration 15 --warmup 2s --no-parity --no-save --json $OUT/wb_thr_$i.json -q >/dev/null 2>&1
  taskset -c 4-7 bash -c "$(declare -f BA); BA -m $XML -d CPU -hint throughput -infer_precision f32 -t 15" 2>&1 | grep -E "Median:|Throughput:|Count:|streams|nireq|infer requests" | tr '\n' ' '; echo " <- ba_thr_$i"
done
python3 - <<'PY'
import json,glob,os
for f in sorted(glob.glob(os.environ['OUT']+'/wb_*.json')):
    d=json.load(open(f)); r=d['results'][0]
    print(os.path.basename(f), 'p50', round(r['latency_ms']['p50'],3), 'mean', round(r['latency_ms']['mean'],3), 'thr', round(r['throughput'],2), 'streams', r['streams'], 'req', r['requests'], 'threads', r['threads'], 'iters', r['iterations'])
PY
python3 -m workbench history list 2>&1 | head
