#!/usr/bin/env python3
"""Markdown table of scripts/launch_table.sh runs, side by side.

Usage: tools/launch_table.py results/launches/A.jsonl results/launches/B.jsonl ...
Each file is one build; rows are (mode, batch); columns launches per step and ms per step.
"""
import json
import sys


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                d = json.loads(line)
                rows[(d["mode"], d["batch"])] = d
    return rows


def main():
    paths = sys.argv[1:]
    builds = [(p.rsplit("/", 1)[-1].removesuffix(".jsonl"), load(p)) for p in paths]
    keys = sorted({k for _, rows in builds for k in rows}, key=lambda k: (k[0], k[1]))
    head = "| mode | batch | " + " | ".join(
        f"{name} launches/step | {name} ms/step" for name, _ in builds) + " |"
    print(head)
    print("| --- | ---: |" + " ---: | ---: |" * len(builds))
    for mode, batch in keys:
        cells = []
        for _, rows in builds:
            d = rows.get((mode, batch))
            cells += ["-", "-"] if d is None else [f"{d['launches_per_step']:.1f}", f"{d['ms_per_step']:.0f}"]
        print(f"| {mode.upper()} | {batch} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
