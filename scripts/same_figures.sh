#!/usr/bin/env bash
# Whether two builds give the same figures on the CPU: runs the quickstart, the adding problem and
# S-MNIST by rows (the plain network and the method's, with gate slopes and per-step
# normalisation) on short seeded budgets, FPTT and BPTT, with the examples of each build, and
# prints every result with the timing fields left out, then SAME or the fields that differ.
# Usage: scripts/same_figures.sh OLD_DIR NEW_DIR   (each holding quickstart, adding and smnist,
# built with `cargo build --release --features train --example quickstart --example adding
# --example smnist`); MNIST from $MNIST (default ../shared/data/mnist).
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: $0 OLD_DIR NEW_DIR" >&2
    exit 2
fi
mnist="${MNIST:-../shared/data/mnist}"
out=$(mktemp)
for which in old new; do
    dir="$1"
    [ "$which" = new ] && dir="$2"
    for learner in fptt bptt; do
        runs=(
            "quickstart|$dir/quickstart --seed 42 --learner $learner"
            "adding|$dir/adding --learner $learner --length 60 --iterations 20 --eval-every 10 --seed 42"
            "smnist-rows|$dir/smnist --learner $learner --steps rows --epochs 1 --train-limit 256 --test-limit 128 --batch 64 --seed 42 --data $mnist"
            "smnist-rows-method|$dir/smnist --learner $learner --steps rows --gate-slope --step-norm --epochs 1 --train-limit 256 --test-limit 128 --batch 64 --seed 42 --data $mnist"
        )
        for run in "${runs[@]}"; do
            name=${run%%|*}
            command=${run#*|}
            line=$($command 2>/dev/null | tail -n 1)
            echo "{\"build\":\"$which\",\"run\":\"$name $learner\",\"result\":$line}" | tee -a "$out"
        done
    done
done
python3 - "$out" <<'PY'
import json, sys
timing = {"seconds", "peak_rss_mib", "commit", "elapsed", "wall_seconds", "minutes_used"}
runs = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    result = {k: v for k, v in d["result"].items() if k not in timing}
    runs.setdefault(d["run"], {})[d["build"]] = result
for run, builds in runs.items():
    old, new = builds["old"], builds["new"]
    diffs = {k: (old.get(k), new.get(k)) for k in set(old) | set(new) if old.get(k) != new.get(k)}
    print(f"{run}: {'SAME' if not diffs else diffs}")
PY
