#!/usr/bin/env bash
# Kernel launches and ms per step of bench_step on wgpu (lavapipe unless a GPU is there):
# FPTT and BPTT at batch 64 and 512, hidden 256, 20 timed steps after 20 warm-up steps.
# Usage: scripts/launch_table.sh BINARY LABEL   -> results/launches/LABEL.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$1
label=$2
mkdir -p results/launches
out=results/launches/$label.jsonl
: >"$out"
export BURN_FPTT_BACKEND=wgpu
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] && [ -f /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ]; then
    export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
fi
for mode in fptt bptt; do
    for batch in 64 512; do
        "$binary" --mode "$mode" --batch "$batch" --hidden 256 --steps 20 --kernels 30 |
            tail -1 | tee -a "$out"
    done
done
