#!/usr/bin/env bash
# Why FPTT trails BPTT on the bundled digits: the quickstart's network and budget (30 epochs,
# Adamax 1e-2, batch 32) over the four seeds of RESULTS.md, one FPTT setting changed at a time,
# two runs side by side, each on one thread. Results: results/digits-ablations/NAME-seedS.json
# (skipped when present); tools/digits_ablations.py tables them.
#
#   scripts/digits_ablations.sh                  # every variant
#   scripts/digits_ablations.sh "fptt bptt"      # some of them
#
# Set QUICKSTART=path/to/quickstart to use a prebuilt binary (else it is built).
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A variants=(
    [bptt]="--learner bptt"
    [bptt-lrstep20]="--learner bptt --lr-step-epochs 20"
    [fptt]=""
    [fptt-no-average]="--no-epoch-average"
    [fptt-no-average-eval-average]="--no-epoch-average --evaluate-on-average"
    [fptt-alpha0.05]="--alpha 0.05"
    [fptt-alpha0.1]="--alpha 0.1"
    [fptt-alpha0.5]="--alpha 0.5"
    [fptt-alpha1]="--alpha 1"
    [fptt-lrstep20]="--lr-step-epochs 20"
    [fptt-lrstep10]="--lr-step-epochs 10"
    [fptt-lr3e-3]="--lr 3e-3"
    [fptt-loss-last]="--loss last"
    [fptt-loss-every]="--loss every"
    [fptt-k4]="--chunks 4"
    [fptt-k2]="--chunks 2"
    [fptt-k1]="--chunks 1"
    [bptt-loss-ramp]="--learner bptt --loss ramp"
    [bptt-loss-every]="--learner bptt --loss every"
    [fptt-k1-loss-last]="--chunks 1 --loss last"
    [fptt-k1-loss-last-no-average]="--chunks 1 --loss last --no-epoch-average"
    [fptt-alpha0.001-no-average]="--alpha 0.001 --no-epoch-average"
    [fptt-lrstep20-no-average-eval-average]="--lr-step-epochs 20 --no-epoch-average --evaluate-on-average"
    [fptt-k2-loss-chunk-ends]="--chunks 2 --loss chunk-ends"
    [fptt-k4-loss-chunk-ends]="--chunks 4 --loss chunk-ends"
    [fptt-k2-loss-chunk-ends-lrstep20]="--chunks 2 --loss chunk-ends --lr-step-epochs 20"
    [fptt-k2-loss-chunk-ends-alpha0.05]="--chunks 2 --loss chunk-ends --alpha 0.05"
    [fptt-k2-loss-chunk-ends-alpha0.5]="--chunks 2 --loss chunk-ends --alpha 0.5"
    [fptt-epochs60]="--epochs 60"
    [bptt-epochs60]="--learner bptt --epochs 60"
)
names=${1:-"${!variants[*]}"}
seeds=${SEEDS:-"42 3 7 11"}
if [ -z "${QUICKSTART:-}" ]; then
    cargo build --release --example quickstart
    QUICKSTART="${CARGO_TARGET_DIR:-target}/release/examples/quickstart"
fi
out=results/digits-ablations
mkdir -p "$out"
run() {
    local name=$1 seed=$2
    local file="$out/$name-seed$seed"
    [ -s "$file.json" ] && return 0
    # shellcheck disable=SC2086
    MATMUL_NUM_THREADS=1 "$QUICKSTART" --seed "$seed" ${variants[$name]} \
        > "$file.json.partial" 2> "$file.log"
    mv "$file.json.partial" "$file.json"
}
jobs=()
for name in $names; do
    [ -n "${variants[$name]+set}" ] || { echo "unknown variant: $name" >&2; exit 2; }
    for seed in $seeds; do jobs+=("$name $seed"); done
done
for job in "${jobs[@]}"; do
    # shellcheck disable=SC2086
    run $job &
    while [ "$(jobs -rp | wc -l)" -ge "${PARALLEL:-2}" ]; do wait -n; done
done
wait
