#!/usr/bin/env python3
"""The digits ablations in results/digits-ablations/ as a markdown table, for RESULTS.md: each
variant's test accuracy per seed, its mean, and its mean gap to BPTT (paired by seed).

    python3 tools/digits_ablations.py [results/digits-ablations]
"""
import glob
import json
import os
import re
import sys
from collections import defaultdict


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "results/digits-ablations"
    runs = defaultdict(dict)
    commits = set()
    for path in sorted(glob.glob(os.path.join(folder, "*-seed*.json"))):
        name, seed = re.match(r"(.*)-seed(\d+)\.json$", os.path.basename(path)).groups()
        with open(path) as f:
            r = json.loads(f.read().strip().splitlines()[-1])
        runs[name][int(seed)] = r
        commits.add(r["commit"])
    seeds = sorted({s for by_seed in runs.values() for s in by_seed})
    base = runs.get("bptt", {})
    head = " | ".join(f"seed {s}" for s in seeds)
    print(f"| variant | {head} | mean | − BPTT (paired) | s per run | commit |")
    print("| --- | " + " | ".join("---:" for _ in seeds) + " | ---: | ---: | ---: | --- |")

    def key(item):
        name, _ = item
        return (name != "bptt", not name.startswith("bptt"), name != "fptt", name)

    for name, by_seed in sorted(runs.items(), key=key):
        cells = [f"{by_seed[s]['test_accuracy']:.4f}" if s in by_seed else "" for s in seeds]
        accs = [by_seed[s]["test_accuracy"] for s in seeds if s in by_seed]
        mean = sum(accs) / len(accs)
        paired = [by_seed[s]["test_accuracy"] - base[s]["test_accuracy"] for s in seeds
                  if s in by_seed and s in base]
        gap = f"{100 * sum(paired) / len(paired):+.2f} pt" if paired and name != "bptt" else ""
        secs = sum(r["seconds"] for r in by_seed.values()) / len(by_seed)
        commit = ", ".join(sorted({r["commit"][:7] for r in by_seed.values()}))
        print(f"| {name} | " + " | ".join(cells) + f" | {mean:.4f} | {gap} | {secs:.1f} | {commit} |")
    print(f"\ncommits: {', '.join(sorted(commits))}")


if __name__ == "__main__":
    main()
