#!/usr/bin/env bash
# Runs on the lent GPU machine, from the repository root, after scripts/gpu_prepare.sh here:
# burn-fptt's bench_step on wgpu (Vulkan) in its three builds, plain (the crate's CubeCL kernels,
# WGSL), `vulkan` (the same, SPIR-V) and `fusion` (burn's fusion + autotune), and the PyTorch
# reference on CUDA, side by side, hidden
# 256: FPTT at batch 64, 512 and 4096, BPTT at 64 and 512. bench_step reports ms per step and
# kernel launches per step, with Adamax over all parameters at once (its default since b1ac4b0;
# `--optimizer per-parameter` is burn's optimizer). One JSON line per run in $OUT/gpu_bench.jsonl, the GPU's name in
# $OUT/gpu.txt, everything printed in $OUT/gpu_bench.log, a Markdown table at the end. Each run is
# cut at 28 s (20 runs), so the whole script fits one 600 s device call. QUICK=1 runs 5 steps each (a smoke
# test; LOCAL=1 skips the device set-up, to run it here on lavapipe).
set -uo pipefail
out="${OUT:?set OUT to the folder that comes back}"
exec > >(tee "$out/gpu_bench.log") 2>&1
# shellcheck source=scripts/gpu_device.sh
. scripts/gpu_device.sh "$out"
if [ -z "${LOCAL:-}" ]; then torch_device=cuda; else torch_device=cpu; fi
for build in bench_step bench_step_wgpu bench_step_spirv; do
    gunzip -c ".device/bench/$build.gz" >"/tmp/$build" && chmod +x "/tmp/$build"
done
export BURN_FPTT_BACKEND=wgpu
scale() { if [ -n "${QUICK:-}" ]; then echo 5; else echo "$1"; fi; }
for config in "fptt 64 300" "fptt 512 300" "fptt 4096 100" "bptt 64 300" "bptt 512 200"; do
    read -r mode batch steps <<<"$config"
    steps=$(scale "$steps")
    for build in bench_step_wgpu bench_step_spirv bench_step; do
        echo "== $build: $mode batch $batch, $steps steps"
        timeout 28 "/tmp/$build" --mode "$mode" --batch "$batch" --hidden 256 --steps "$steps" |
            tail -n 1 | sed "s/^{/{\"build\":\"$build\",/" | tee -a "$out/gpu_bench.jsonl"
    done
    echo "== PyTorch on $torch_device: $mode batch $batch, $steps steps"
    timeout 28 python3 .device/bench/ltc_fptt_torch.py --mode "$mode" --batch "$batch" --hidden 256 \
        --steps "$steps" --device "$torch_device" | tail -n 1 | tee -a "$out/gpu_bench.jsonl"
done
python3 - "$out/gpu_bench.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def find(mode, batch, key, prefix):
    return next((r for r in rows if r.get("mode") == mode and r.get("batch") == batch
                 and str(r.get(key, "")).startswith(prefix)), None)
print("| mode | batch | wgpu ms/step | wgpu launches/step | SPIR-V ms/step | SPIR-V launches/step | fusion ms/step | fusion launches/step | PyTorch ms/step |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for mode, batch in [("fptt", 64), ("fptt", 512), ("fptt", 4096), ("bptt", 64), ("bptt", 512)]:
    cells = []
    for build in ["bench_step_wgpu", "bench_step_spirv", "bench_step"]:
        r = next((r for r in rows if r.get("mode") == mode and r.get("batch") == batch
                  and r.get("build") == build), None)
        cells += ["-", "-"] if r is None else [f"{r['ms_per_step']:.2f}", f"{r.get('launches_per_step', float('nan')):.1f}"]
    t = find(mode, batch, "impl", "pytorch")
    cells.append("-" if t is None else f"{t['ms_per_step']:.2f}")
    print(f"| {mode.upper()} | {batch} | " + " | ".join(cells) + " |")
PY
echo "== done"
