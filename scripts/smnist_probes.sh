#!/usr/bin/env bash
# The 1-epoch per-pixel S-MNIST probe of RESULTS.md (first 3 200 training and 1 000 test images,
# one LTC layer of 64, batch 64, seed 42, 784 steps of one pixel) with the published network's
# options: per-step normalisation of every drive (--step-norm), learnable gate slopes
# (--gate-slope), both, and neither. FPTT with one update per pixel (alpha 0.1, lr 3e-3), as the
# PyTorch probe (tools/smnist_torch_probe.py [--bn]); BPTT on the same options for reference;
# `-rerun` repeats the plain FPTT probe at this commit (same figures expected).
# Two runs side by side, one thread each. JSON and logs in results/probes/ (skipped when present).
#
#   scripts/smnist_probes.sh                    # every variant
#   scripts/smnist_probes.sh "fptt-k784-alpha0.1-lr0.003-stepnorm"    # some of them
#
# SEEDS="42 1 2" repeats every variant on those seeds (default 42; other seeds add -seedS to the
# file name). Set SMNIST=path/to/smnist to use a prebuilt binary (else it is built); the MNIST files come
# from $BURN_FPTT_MNIST, else data/mnist (scripts/fetch_mnist.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A variants=(
    [fptt-k784-alpha0.1-lr0.003-rerun]="--learner fptt"
    [fptt-k784-alpha0.1-lr0.003-stepnorm]="--learner fptt --step-norm"
    [fptt-k784-alpha0.1-lr0.003-slope]="--learner fptt --gate-slope"
    [fptt-k784-alpha0.1-lr0.003-stepnorm-slope]="--learner fptt --step-norm --gate-slope"
    [bptt-lr0.003-stepnorm-slope]="--learner bptt --step-norm --gate-slope"
)
names=${1:-"${!variants[*]}"}
if [ -z "${SMNIST:-}" ]; then
    cargo build --release --example smnist
    SMNIST="${CARGO_TARGET_DIR:-target}/release/examples/smnist"
fi
out=results/probes
mkdir -p "$out"
run() {
    local name=$1 seed=$2
    local file="$out/smnist3200-$name"
    [ "$seed" = 42 ] || file="$file-seed$seed"
    [ -s "$file.json" ] && return 0
    # shellcheck disable=SC2086
    MATMUL_NUM_THREADS=1 "$SMNIST" --train-limit 3200 --test-limit 1000 --hidden 64 --layers 1 \
        --batch 64 --seed "$seed" --epochs 1 --alpha 0.1 --lr 3e-3 ${variants[$name]} \
        > "$file.json.partial" 2> "$file.log"
    mv "$file.json.partial" "$file.json"
}
running=0
for seed in ${SEEDS:-42}; do
    for name in $names; do
        run "$name" "$seed" &
        running=$((running + 1))
        if [ "$running" -ge 2 ]; then
            wait -n
            running=$((running - 1))
        fi
    done
done
wait
