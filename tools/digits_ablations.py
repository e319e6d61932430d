#!/usr/bin/env python3
"""The digits ablations in results/digits-ablations/ as markdown tables, for RESULTS.md: each
variant's test accuracy on the seeds every variant ran, its mean, and its mean gap to BPTT
(paired by seed); then, for the variants run on more seeds, the same over all their seeds with
the standard error of the paired gap.

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
    seeds = sorted(set.intersection(*(set(by_seed) for by_seed in runs.values())))
    base = runs.get("bptt", {})
    head = " | ".join(f"seed {s}" for s in seeds)
    print(f"| variant | {head} | mean | − BPTT (paired) | s per run | commit |")
    print("| --- | " + " | ".join("---:" for _ in seeds) + " | ---: | ---: | ---: | --- |")

    def key(item):
        name, _ = item
        return (name != "bptt", not name.startswith("bptt"), name != "fptt", name)

    for name, by_seed in sorted(runs.items(), key=key):
        shared = {s: by_seed[s] for s in seeds}
        cells = [f"{shared[s]['test_accuracy']:.4f}" for s in seeds]
        mean = sum(r["test_accuracy"] for r in shared.values()) / len(shared)
        paired = [shared[s]["test_accuracy"] - base[s]["test_accuracy"] for s in seeds
                  if s in base]
        gap = f"{100 * sum(paired) / len(paired):+.2f} pt" if paired and name != "bptt" else ""
        secs = sum(r["seconds"] for r in shared.values()) / len(shared)
        commit = ", ".join(sorted({r["commit"][:7] for r in shared.values()}))
        print(f"| {name} | " + " | ".join(cells) + f" | {mean:.4f} | {gap} | {secs:.1f} | {commit} |")

    more = [(n, b) for n, b in sorted(runs.items(), key=key) if len(b) > len(seeds)]
    if more:
        print("\n| variant | seeds | mean | − BPTT (paired) | standard error | commit |")
        print("| --- | --- | ---: | ---: | ---: | --- |")
    for name, by_seed in more:
        accs = [r["test_accuracy"] for r in by_seed.values()]
        paired = [by_seed[s]["test_accuracy"] - base[s]["test_accuracy"] for s in by_seed
                  if s in base]
        gap = se = ""
        if name != "bptt" and len(paired) > 1:
            m = sum(paired) / len(paired)
            sd = (sum((p - m) ** 2 for p in paired) / (len(paired) - 1)) ** 0.5
            gap, se = f"{100 * m:+.2f} pt", f"{100 * sd / len(paired) ** 0.5:.2f} pt"
        commit = ", ".join(sorted({r["commit"][:7] for r in by_seed.values()}))
        listed = ", ".join(str(s) for s in sorted(by_seed))
        print(f"| {name} | {listed} | {sum(accs) / len(accs):.4f} | {gap} | {se} | {commit} |")
    print(f"\ncommits: {', '.join(sorted(commits))}")


if __name__ == "__main__":
    main()
