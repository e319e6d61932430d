#!/usr/bin/env bash
# Peak memory of the adding problem's learners against the sequence length T: FPTT with chunks
# of 20 steps (K = T/20), FPTT with the method's K = 10 (chunks of T/10) and whole-sequence BPTT,
# 3 iterations each (batch 128, 128 test sequences measured once at the end), one thread.
# Results: results/adding-memory/tT-LEARNER-kK.json; `python3 tools/adding_table.py
# results/adding-memory` tables them.
#
# Set ADDING=path/to/adding to use a prebuilt binary (else it is built).
set -euo pipefail
cd "$(dirname "$0")/.."
lengths=${1:-"100 200 500 1000 2000"}
if [ -z "${ADDING:-}" ]; then
    cargo build --release --example adding
    ADDING="${CARGO_TARGET_DIR:-target}/release/examples/adding"
fi
out=results/adding-memory
mkdir -p "$out"
for length in $lengths; do
    for run in "fptt $((length / 20))" "fptt 10" "bptt 10"; do
        read -r learner chunks <<<"$run"
        name="$out/t$length-$learner-k$chunks"
        [ -s "$name.json" ] && continue
        MATMUL_NUM_THREADS=1 "$ADDING" --length "$length" --learner "$learner" --chunks "$chunks" \
            --iterations 3 --eval-every 3 --test-size 128 --seed 1 > "$name.json.partial" 2> "$name.log"
        mv "$name.json.partial" "$name.json"
    done
done
