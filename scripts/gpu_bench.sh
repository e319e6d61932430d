#!/usr/bin/env bash
# Runs on the lent GPU machine, from the repository root, after scripts/gpu_prepare.sh here:
# burn-fptt's wgpu bench_step (Vulkan) and the PyTorch reference on CUDA, side by side, hidden 256:
# FPTT at batch 64, 512 and 4096, BPTT at 64 and 512. One JSON line per run in
# $OUT/gpu_bench.jsonl, the GPU's name in $OUT/gpu.txt, everything printed in $OUT/gpu_bench.log.
# Each run is cut at 55 s, so the whole script fits one 600 s device call. QUICK=1 runs 5 steps
# each (a smoke test; LOCAL=1 skips the device set-up, to run it here on lavapipe).
set -uo pipefail
out="${OUT:?set OUT to the folder that comes back}"
exec > >(tee "$out/gpu_bench.log") 2>&1
# shellcheck source=scripts/gpu_device.sh
. scripts/gpu_device.sh "$out"
if [ -z "${LOCAL:-}" ]; then torch_device=cuda; else torch_device=cpu; fi
gunzip -c .device/bench_step.gz >/tmp/bench_step && chmod +x /tmp/bench_step
export BURN_FPTT_BACKEND=wgpu
scale() { if [ -n "${QUICK:-}" ]; then echo 5; else echo "$1"; fi; }
for config in "fptt 64 300" "fptt 512 300" "fptt 4096 100" "bptt 64 300" "bptt 512 200"; do
    read -r mode batch steps <<<"$config"
    steps=$(scale "$steps")
    echo "== $mode batch $batch, $steps steps"
    timeout 55 /tmp/bench_step --mode "$mode" --batch "$batch" --hidden 256 --steps "$steps" |
        tail -n 1 | tee -a "$out/gpu_bench.jsonl"
    timeout 55 python3 .device/ltc_fptt_torch.py --mode "$mode" --batch "$batch" --hidden 256 \
        --steps "$steps" --device "$torch_device" | tail -n 1 | tee -a "$out/gpu_bench.jsonl"
done
echo "== done"
