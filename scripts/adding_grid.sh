#!/usr/bin/env bash
# The adding problem, FPTT against whole-sequence BPTT, truncated BPTT (same number of updates)
# and FPTT without its regulariser, on the method's network; one run at a time, each on one
# thread, logs, curves and summaries in results/adding/.
#
#   scripts/adding_grid.sh "200 500 1000" "fptt bptt tbptt unregularised" "1 2" ITERATIONS [MINUTES]
#
# With MINUTES, each run stops after that many minutes of training if it has not finished its
# iterations (the name then ends in -mMINUTES). EVAL_EVERY sets how often the test MSE is
# measured (default 50 iterations). LOSS=chunk-ends gives FPTT, truncated BPTT and the ablation
# the loss at chunk ends only (the name then ends in -chunk-ends). NEURON=fixed gives the LTC
# layer the method's adding-problem threshold, 0.5 without adaptation (name: -fixed).
# LR_STEP=N multiplies the learning rate by 0.1 every N iterations (name: -lrstepN).
#
# Set ADDING=path/to/adding to use a prebuilt binary (else it is built).
set -euo pipefail
cd "$(dirname "$0")/.."
lengths=${1:-"200 500 1000"}
learners=${2:-"fptt bptt tbptt unregularised"}
seeds=${3:-"1 2"}
iterations=${4:-1000}
minutes=${5:-}
if [ -z "${ADDING:-}" ]; then
    cargo build --release --example adding
    ADDING="${CARGO_TARGET_DIR:-target}/release/examples/adding"
fi
mkdir -p results/adding
for length in $lengths; do
    for seed in $seeds; do
        for learner in $learners; do
            name="results/adding/t${length}-${learner}-seed${seed}-i${iterations}${minutes:+-m$minutes}${LOSS:+-$LOSS}${NEURON:+-$NEURON}${LR_STEP:+-lrstep$LR_STEP}"
            [ -s "$name.json" ] && continue
            echo "== $name"
            MATMUL_NUM_THREADS=1 "$ADDING" --length "$length" --learner "$learner" \
                --seed "$seed" --iterations "$iterations" ${minutes:+--minutes "$minutes"} \
                --eval-every "${EVAL_EVERY:-50}" --curve "$name.curve.jsonl" ${LOSS:+--loss "$LOSS"} \
                ${NEURON:+--threshold 0.5 --adaptation 0} \
                ${LR_STEP:+--lr-step-iterations "$LR_STEP"} \
                > "$name.json.partial" 2> "$name.log"
            mv "$name.json.partial" "$name.json"
        done
    done
done
