#!/usr/bin/env python3
"""Learning curves as PNGs for RESULTS.md and the README (needs matplotlib).

    python3 tools/plot_curves.py adding [results/adding] [docs]
        one PNG per T: test MSE against iterations, one line per learner and seed
    python3 tools/plot_curves.py epochs OUT.png TITLE LOG...
        test accuracy per epoch from the examples' progress logs (lines with 'test loss L acc A')
"""
import glob
import json
import os
import re
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"fptt": "tab:blue", "bptt": "tab:red", "tbptt": "tab:green", "unregularised": "tab:orange"}


def adding(folder="results/adding", out="docs"):
    by_length = defaultdict(list)
    for path in sorted(glob.glob(os.path.join(folder, "*.curve.jsonl"))):
        m = re.match(r"t(\d+)-([a-z]+)-seed(\d+)-(.*)\.curve\.jsonl$", os.path.basename(path))
        if not m:
            continue
        length, learner, seed, rest = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
        points = [json.loads(line) for line in open(path) if line.strip()]
        if points:
            by_length[length].append((learner, seed, rest, points))
    styles = ["-", "--", ":", "-."]
    for length, runs in sorted(by_length.items()):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        seen = defaultdict(int)
        for learner, seed, rest, points in sorted(runs, key=lambda r: r[:3]):
            style = styles[seen[learner] % len(styles)]
            seen[learner] += 1
            ax.plot([p["iteration"] for p in points], [p["test_mse"] for p in points],
                    color=COLOURS.get(learner, "black"), linestyle=style, alpha=0.85,
                    label=f"{learner} seed {seed} ({rest})")
        ax.axhline(0.167, color="grey", linewidth=0.8, linestyle=":", label="predict the mean (0.167)")
        ax.set_yscale("log")
        ax.set_xlabel("iteration (batch of 128 fresh sequences)")
        ax.set_ylabel("test MSE (512 sequences)")
        ax.set_title(f"Adding problem, T = {length}: LTC 128, Adam 3e-3, K = 10 (CPU budget)")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        target = os.path.join(out, f"adding_t{length}.png")
        fig.savefig(target, dpi=110)
        print(target)


def epochs(out, title, logs):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for path in logs:
        accs = [float(m.group(1)) for m in
                (re.search(r"test loss \S+ acc ([0-9.]+)", line) for line in open(path)) if m]
        label = os.path.basename(path).rsplit(".", 1)[0]
        if "fptt" not in label:
            colour, style = "tab:red", "-"
        elif "chunk" in label:
            colour, style = "tab:blue", "-"
        else:
            colour, style = "tab:purple", "--"
        ax.plot(range(1, len(accs) + 1), accs, color=colour, linestyle=style, marker=".",
                alpha=0.8, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    if sys.argv[1] == "adding":
        adding(*sys.argv[2:])
    elif sys.argv[1] == "epochs":
        epochs(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)
