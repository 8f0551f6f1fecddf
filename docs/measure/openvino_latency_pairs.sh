#!/bin/bash
# Run on the lent GPU machine from the repo root with .whl/ carried: 5 alternating workbench/benchmark_app latency pairs.
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
ln -sfn $PWD/engines /tmp/site/workbench_engines && ln -sfn $PWD/themes /tmp/site/workbench_themes
export PYTHONPATH=$PWD:/tmp/site WORKBENCH_HOME=/tmp/wbh
python3 -m workbench run -m resnet18 -e torch --device cuda --duration 2 --no-save -q 2>&1 | head -4
XML=$(python3 -c "from workbench.models import resolve; print(resolve('resnet50', formats={'openvino'}).files['openvino'])")
for i in 1 2 3 4 5; do
  python3 -m workbench run -m resnet50 -e openvino --cores 8-11 --duration 10 --warmup 2s --no-parity --no-save --json $OUT/wb_$i.json -q >/dev/null 2>&1
  taskset -c 8-11 python3 -c 'import sys; from openvino.tools.benchmark.main import main; sys.argv[0]="benchmark_app"; sys.exit(main())' -m "$XML" -d CPU -hint latency -infer_precision f32 -t 10 2>&1 | grep -E "Median:" | tr -s ' ' | sed "s/^/ba_$i /"
  python3 -c "import json; r=json.load(open('$OUT/wb_$i.json'))['results'][0]; print('wb_$i Median:', round(r['latency_ms']['p50'],2), 'ms; n', r['iterations'], 'threads', r['threads'], 'streams', r['streams'])"
done
