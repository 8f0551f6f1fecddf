#!/usr/bin/env bash
# The CUDA paths, checked on a machine with an NVIDIA GPU (docs/performance.md, "CUDA"): torch inference at fp32
# (TF32 off), fp16 and in throughput mode, a sweep on the GPU, and text generation on the GPU and on its CPU.
# Usage: bash docs/measure/cuda_check.sh OUTDIR   (from the repository root, with the workbench importable)
# Every command is an ordinary `workbench` command; each writes its JSON into OUTDIR and its table to the log.
set -u
out=${1:?give an output folder}
mkdir -p "$out"
wb() { echo "\$ workbench $*"; timeout 900 python -m workbench "$@" 2>&1 | tail -40; echo "exit $?"; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
wb info
wb run -m resnet18 -e torch --device cuda -d 3 --json "$out/resnet18_cuda_fp32.json"
wb run -m resnet18 -e torch --device cuda --precision fp16 -d 3 --json "$out/resnet18_cuda_fp16.json"
wb run -m resnet18 -e torch --device cuda --mode throughput --batch 32 -d 3 --json "$out/resnet18_cuda_b32.json"
wb sweep -m resnet18 -e torch --device cuda --batch 1,8,32 --threads 1 -d 1 --json "$out/sweep_cuda.json"
wb run -m tiny-llama --mode generate -e torch --device cuda --prompt-tokens 32 --new-tokens 16 -d 2 \
  --json "$out/tiny_llama_cuda.json"
wb run -m llama-1b --mode generate -e torch --device cuda --prompt-tokens 128 --new-tokens 64 -d 10 \
  --json "$out/llama1b_cuda.json"
wb run -m llama-1b --mode generate -e torch --prompt-tokens 128 --new-tokens 64 -d 10 --no-parity \
  --json "$out/llama1b_cpu.json"
