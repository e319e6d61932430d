#!/usr/bin/env bash
# Two builds of bench_step side by side, in one run: `scripts/ab_bench.sh OLD NEW` runs each
# configuration ROUNDS times (default 5), the two binaries alternating so that a slow spell of the
# machine hits both, and prints every JSON line, then a Markdown table of medians with the ratio of
# medians (NEW / OLD: below 1 means NEW is faster) and the lowest and highest per-round ratio.
# CONFIGS overrides the configurations ("mode batch steps", separated by commas).
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: $0 OLD_BENCH_STEP NEW_BENCH_STEP" >&2
    exit 2
fi
old="$1"
new="$2"
for bin in "$old" "$new"; do
    [ -x "$bin" ] || { echo "$0: not an executable: $bin" >&2; exit 2; }
done
rounds="${ROUNDS:-5}"
threads="${THREADS:-2}"
IFS=',' read -r -a configs <<<"${CONFIGS:-fptt 64 150,fptt 512 60,bptt 64 200,bptt 512 100}"
out=$(mktemp)
for config in "${configs[@]}"; do
    read -r mode batch steps <<<"$config"
    for _ in $(seq "$rounds"); do
        for which in old new; do
            bin="$old"
            [ "$which" = new ] && bin="$new"
            "$bin" --mode "$mode" --batch "$batch" --hidden 256 --steps "$steps" --threads "$threads" |
                tail -n 1 | sed "s/^{/{\"build\":\"$which\",/" | tee -a "$out"
        done
    done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
groups = {}
for old, new in zip(rows[0::2], rows[1::2]):
    groups.setdefault((old["mode"], old["batch"], old["steps"]), []).append((old, new))
print("\n| mode | batch | steps | rounds | old ms/step | new ms/step | new / old | per-round ratios |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for (mode, batch, steps), pairs in groups.items():
    o = statistics.median(p[0]["ms_per_step"] for p in pairs)
    n = statistics.median(p[1]["ms_per_step"] for p in pairs)
    ratios = [p[1]["ms_per_step"] / p[0]["ms_per_step"] for p in pairs]
    print(f"| {mode} | {batch} | {steps} | {len(pairs)} | {o:.2f} | {n:.2f} | {n / o:.2f} | "
          f"{min(ratios):.2f}-{max(ratios):.2f} |")
PY
