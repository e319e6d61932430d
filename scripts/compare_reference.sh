#!/usr/bin/env bash
# Side by side, in one run on one machine: this crate's bench_step against the PyTorch reference
# (../shared/reference/ltc_fptt_torch.py, or $REFERENCE), same model, batch, hidden size, steps.
# Needs `python3 -m pip install torch`. Prints one JSON line per measurement, then a Markdown table
# of ratios (burn-fptt ms / PyTorch ms: below 1 means burn-fptt is faster).
set -euo pipefail
cd "$(dirname "$0")/.."
reference="${REFERENCE:-../shared/reference/ltc_fptt_torch.py}"
threads="${THREADS:-2}"
features="${FEATURES:-}"
cargo build --release --example bench_step ${features:+--features "$features"} >&2
bench="${CARGO_TARGET_DIR:-target}/release/examples/bench_step"
out=$(mktemp)
# mode batch steps
configs=("fptt 64 150" "fptt 512 60" "bptt 64 784" "bptt 512 200")
for config in "${configs[@]}"; do
    read -r mode batch steps <<<"$config"
    for impl in burn torch; do
        if [ "$impl" = burn ]; then
            "$bench" --mode "$mode" --batch "$batch" --hidden 256 --steps "$steps" --threads "$threads"
        else
            python3 "$reference" --mode "$mode" --batch "$batch" --hidden 256 --steps "$steps" --threads "$threads"
        fi | tail -n 1 | tee -a "$out"
    done
done
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("\n| mode | batch | steps | burn-fptt ms/step | PyTorch ms/step | ratio | burn-fptt peak RSS MiB | PyTorch peak RSS MiB |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for burn, torch in zip(rows[0::2], rows[1::2]):
    print(f"| {burn['mode']} | {burn['batch']} | {burn['steps']} | {burn['ms_per_step']:.2f} | {torch['ms_per_step']:.2f} "
          f"| {burn['ms_per_step'] / torch['ms_per_step']:.2f} | {burn['peak_rss_mib']} | {torch['peak_rss_mib']} |")
print(f"\n(burn-fptt commit {rows[0].get('commit')}, {torch_version if (torch_version := rows[1].get('impl')) else ''})")
PY
rm -f "$out"
