#!/usr/bin/env bash
# Side by side, in one run on one machine: this crate's bench_step against the PyTorch reference
# (../shared/reference/ltc_fptt_torch.py, or $REFERENCE), same model, batch, hidden size, steps.
# Needs `python3 -m pip install torch`. Each configuration runs ROUNDS times (default 3), the two
# implementations alternating, so that a slow spell of the machine hits both; prints every JSON
# line, then a Markdown table of medians and of the ratio of medians (burn-fptt / PyTorch: below 1
# means burn-fptt is faster), with the lowest and highest per-round ratio.
# The FPTT rows also time each library's matrix products alone at the step's shapes (a second
# table: the floor under each step, against half of PyTorch's step).
# ALSO_FEATURES=openblas adds a second build of bench_step with those features (copied aside),
# run in the same rounds, so that two builds and PyTorch are measured side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
reference="${REFERENCE:-../shared/reference/ltc_fptt_torch.py}"
threads="${THREADS:-2}"
rounds="${ROUNDS:-3}"
features="${FEATURES:-}"
also="${ALSO_FEATURES:-}"
target="${CARGO_TARGET_DIR:-target}"
impls=(burn)
if [ -n "$also" ]; then
    cargo build --release --example bench_step --features "$also" >&2
    cp "$target/release/examples/bench_step" "$target/release/examples/bench_step_also"
    impls+=(also)
fi
impls+=(torch)
cargo build --release --example bench_step ${features:+--features "$features"} >&2
bench="$target/release/examples/bench_step"
out=$(mktemp)
products=$(mktemp)
# FPTT rows also time the step's matrix products alone, in both libraries (bench_step
# --products, tools/torch_products.py): the floor under each step.
declare -A products_flag=([fptt]=1)
# mode batch steps
configs=("fptt 64 150" "fptt 512 60" "bptt 64 784" "bptt 512 200")
for config in "${configs[@]}"; do
    read -r mode batch steps <<<"$config"
    for _ in $(seq "$rounds"); do
        for impl in "${impls[@]}"; do
            if [ "$impl" = burn ]; then
                "$bench" --mode "$mode" --batch "$batch" --hidden 256 --steps "$steps" --threads "$threads" \
                    ${products_flag[$mode]:+--products}
            elif [ "$impl" = also ]; then
                OPENBLAS_NUM_THREADS="$threads" "$target/release/examples/bench_step_also" --mode "$mode" \
                    --batch "$batch" --hidden 256 --steps "$steps" --threads "$threads" |
                    sed "s/^{/{\"features\":\"$also\",/"
            else
                python3 "$reference" --mode "$mode" --batch "$batch" --hidden 256 --steps "$steps" --threads "$threads"
                if [ "$mode" = fptt ]; then
                    python3 tools/torch_products.py --batch "$batch" --hidden 256 --threads "$threads" \
                        | tail -n 1 | tee -a "$products" >&2
                fi
            fi | tail -n 1 | tee -a "$out"
        done
    done
done
python3 - "$out" "${#impls[@]}" "$products" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
width = int(sys.argv[2])
groups, also = {}, {}
for i in range(0, len(rows), width):
    burn, torch = rows[i], rows[i + width - 1]
    groups.setdefault((burn["mode"], burn["batch"], burn["steps"]), []).append((burn, torch))
    if width == 3:
        also.setdefault((burn["mode"], burn["batch"], burn["steps"]), []).append((rows[i + 1], torch))
print("\n| mode | batch | steps | rounds | burn-fptt ms/step | PyTorch ms/step | ratio of medians | per-round ratios | burn-fptt peak RSS MiB | PyTorch peak RSS MiB |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for (mode, batch, steps), pairs in groups.items():
    b = statistics.median(p[0]["ms_per_step"] for p in pairs)
    t = statistics.median(p[1]["ms_per_step"] for p in pairs)
    ratios = [p[0]["ms_per_step"] / p[1]["ms_per_step"] for p in pairs]
    rss = (max(p[0]["peak_rss_mib"] for p in pairs), max(p[1]["peak_rss_mib"] for p in pairs))
    print(f"| {mode} | {batch} | {steps} | {len(pairs)} | {b:.2f} | {t:.2f} | {b / t:.2f} "
          f"| {min(ratios):.2f}-{max(ratios):.2f} | {rss[0]} | {rss[1]} |")
if also:
    print(f"\nThe build with features {rows[1].get('features')}, in the same rounds:")
    print("\n| mode | batch | steps | rounds | burn-fptt ms/step | PyTorch ms/step | ratio of medians | per-round ratios |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (mode, batch, steps), pairs in also.items():
        b = statistics.median(p[0]["ms_per_step"] for p in pairs)
        t = statistics.median(p[1]["ms_per_step"] for p in pairs)
        ratios = [p[0]["ms_per_step"] / p[1]["ms_per_step"] for p in pairs]
        print(f"| {mode} | {batch} | {steps} | {len(pairs)} | {b:.2f} | {t:.2f} | {b / t:.2f} "
              f"| {min(ratios):.2f}-{max(ratios):.2f} |")
torch_products = [json.loads(l) for l in open(sys.argv[3])]
if torch_products:
    print("\nFPTT's twelve batch x 256 x 256 matrix products alone, in the same rounds (medians, ms;"
          " bench_step --products, tools/torch_products.py):")
    print("\n| batch | burn-fptt step | burn-fptt products | PyTorch step | PyTorch products | 0.5 x PyTorch step |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for (mode, batch, steps), pairs in groups.items():
        if mode != "fptt":
            continue
        b = statistics.median(p[0]["ms_per_step"] for p in pairs)
        t = statistics.median(p[1]["ms_per_step"] for p in pairs)
        bp = statistics.median(p[0]["products_ms_per_step"] for p in pairs)
        tp = statistics.median(r["products_ms_per_step"] for r in torch_products if r["batch"] == batch)
        print(f"| {batch} | {b:.2f} | {bp:.2f} | {t:.2f} | {tp:.2f} | {t / 2:.2f} |")
print(f"\n(burn-fptt commit {rows[0].get('commit')}, backend {rows[0].get('device')}; {rows[width - 1].get('impl')})")
PY
rm -f "$out" "$products"
