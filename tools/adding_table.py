#!/usr/bin/env python3
"""The adding-problem runs in results/adding/ as a markdown table (one row per run), for RESULTS.md.

    python3 tools/adding_table.py [results/adding]
"""
import glob
import json
import os
import sys


def tail(r):
    """The mean of the last measurements, where the run recorded it."""
    if "last_mean_test_mse" not in r:
        return ""
    return f"{r['last_mean_test_mse']:.4f}"


def loss(r):
    """Marks for runs with the chunk-end loss, the fixed-threshold neuron or a learning-rate step."""
    marks = []
    if r.get("loss") == "ChunkEnds":
        marks.append("chunk ends")
    if r.get("adaptation") == 0:
        marks.append(f"threshold {r['threshold']}, no adaptation")
    if r.get("lr_step_iterations"):
        marks.append(f"lr x {r['lr_gamma']} every {r['lr_step_iterations']} it.")
    return f" ({'; '.join(marks)})" if marks else ""


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "results/adding"
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        with open(path) as f:
            lines = f.read().strip().splitlines()
        if not lines:
            print(f"skipped {path}: empty (no summary)", file=sys.stderr)
            continue
        r = json.loads(lines[-1])
        rows.append(r)
    rows.sort(key=lambda r: (r["length"], r["seed"], r["variant"], r.get("loss", ""), r["chunks"]))
    print("| T | learner | K | seed | iterations | updates | test MSE | mean of last 5 | best | s | peak RSS MiB | commit |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(
            f"| {r['length']} | {r['variant']}{loss(r)} | {r['chunks'] if r['variant'] != 'bptt' else 1} | {r['seed']} | {r['iterations']} | {r['updates']} "
            f"| {r['test_mse']:.4f} | {tail(r)} | {r['best_test_mse']:.4f} | {r['seconds']:.0f} "
            f"| {r['peak_rss_mib']:.1f} | {r['commit']} |"
        )


if __name__ == "__main__":
    main()
