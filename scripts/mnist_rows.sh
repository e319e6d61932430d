#!/usr/bin/env bash
# MNIST read by rows (28 steps of 28 pixels), all 60 000 training and 10 000 test images: FPTT
# with one update per row against whole-sequence BPTT on the same network (one LTC layer of 128,
# batch 64, Adamax 3e-3), one run at a time on one thread. Per-epoch logs and summary JSON in
# results/mnist-rows/ (skipped when present).
#
#   scripts/mnist_rows.sh "fptt bptt" "1 2 3" EPOCHS
#
# CHUNKS (default 28, one update per row) and LOSS (ramp or chunk-ends; default ramp) set FPTT's
# updates and loss; other than the defaults they name the files (fptt-k2-chunk-ends-seed1-e10).
# Set SMNIST=path/to/smnist to use a prebuilt binary (else it is built); the MNIST files come
# from $BURN_FPTT_MNIST, else data/mnist (scripts/fetch_mnist.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
learners=${1:-"fptt bptt"}
seeds=${2:-"1 2 3"}
epochs=${3:-10}
if [ -z "${SMNIST:-}" ]; then
    cargo build --release --example smnist
    SMNIST="${CARGO_TARGET_DIR:-target}/release/examples/smnist"
fi
mkdir -p results/mnist-rows
for seed in $seeds; do
    for learner in $learners; do
        tag=""
        if [ "$learner" = fptt ] && [ -n "${CHUNKS:-}${LOSS:-}" ]; then
            tag="-k${CHUNKS:-28}-${LOSS:-ramp}"
        fi
        name="results/mnist-rows/$learner$tag-seed$seed-e$epochs"
        [ -s "$name.json" ] && continue
        echo "== $name"
        MATMUL_NUM_THREADS=1 "$SMNIST" --steps rows --layers 1 --hidden 128 --batch 64 \
            --lr 3e-3 --chunks "${CHUNKS:-28}" --loss "${LOSS:-ramp}" --learner "$learner" \
            --seed "$seed" --epochs "$epochs" \
            > "$name.json.partial" 2> "$name.log"
        mv "$name.json.partial" "$name.json"
    done
done
