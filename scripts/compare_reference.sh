#!/usr/bin/env bash
# Side by side, in one run on one machine: this crate's bench_step against the PyTorch reference
# (../shared/reference/ltc_fptt_torch.py, or $REFERENCE), same model, batch, hidden size, steps.
# Needs `python3 -m pip install torch`. Each configuration runs ROUNDS times (default 3), the two
# implementations alternating, so that a slow spell of the machine hits both; prints every JSON
# line, then a Markdown table of medians and of the ratio of medians (burn-fptt / PyTorch: below 1
# means burn-fptt is faster), with the lowest and highest per-round ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
reference="${REFERENCE:-../shared/reference/ltc_fptt_torch.py}"
threads="${THREADS:-2}"
rounds="${ROUNDS:-3}"
features="${FEATURES:-}"
cargo build --release --example bench_step ${features:+--features "$features"} >&2
bench="${CARGO_TARGET_DIR:-target}/release/examples/bench_step"
out=$(mktemp)
# mode batch steps
configs=("fptt 64 150" "fptt 512 60" "bptt 64 784" "bptt 512 200")
for config in "${configs[@]}"; do
    read -r mode batch steps <<<"$config"
    for _ in $(seq "$rounds"); do
        for impl in burn torch; do
            if [ "$impl" = burn ]; then
                "$bench" --mode "$mode" --batch "$batch" --hidden 256 --steps "$steps" --threads "$threads"
            else
                python3 "$reference" --mode "$mode" --batch "$batch" --hidden 256 --steps "$steps" --threads "$threads"
            fi | tail -n 1 | tee -a "$out"
        done
    done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
groups = {}
for burn, torch in zip(rows[0::2], rows[1::2]):
    groups.setdefault((burn["mode"], burn["batch"], burn["steps"]), []).append((burn, torch))
print("\n| mode | batch | steps | rounds | burn-fptt ms/step | PyTorch ms/step | ratio of medians | per-round ratios | burn-fptt peak RSS MiB | PyTorch peak RSS MiB |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for (mode, batch, steps), pairs in groups.items():
    b = statistics.median(p[0]["ms_per_step"] for p in pairs)
    t = statistics.median(p[1]["ms_per_step"] for p in pairs)
    ratios = [p[0]["ms_per_step"] / p[1]["ms_per_step"] for p in pairs]
    rss = (max(p[0]["peak_rss_mib"] for p in pairs), max(p[1]["peak_rss_mib"] for p in pairs))
    print(f"| {mode} | {batch} | {steps} | {len(pairs)} | {b:.2f} | {t:.2f} | {b / t:.2f} "
          f"| {min(ratios):.2f}-{max(ratios):.2f} | {rss[0]} | {rss[1]} |")
print(f"\n(burn-fptt commit {rows[0].get('commit')}, backend {rows[0].get('device')}; {rows[1].get('impl')})")
PY
rm -f "$out"
