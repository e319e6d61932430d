#!/usr/bin/env python3
"""The MNIST-by-rows runs in results/mnist-rows/ as a markdown table for RESULTS.md: per run the
test accuracy after each epoch (from the progress log), the last and the best, peak RSS and
commit (from the summary JSON, where the run finished).

    python3 tools/mnist_rows_table.py [results/mnist-rows]
"""
import glob
import json
import os
import re
import sys


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "results/mnist-rows"
    rows = []
    for log in sorted(glob.glob(os.path.join(folder, "*.log"))):
        name = os.path.basename(log)[: -len(".log")]
        accs = [float(m.group(1)) for m in
                (re.search(r"test loss \S+ acc ([0-9.]+)", line) for line in open(log)) if m]
        summary = os.path.join(folder, name + ".json")
        r = {}
        if os.path.exists(summary) and os.path.getsize(summary) > 0:
            r = json.loads(open(summary).read().strip().splitlines()[-1])
        rows.append((name, accs, r))
    width = max((len(a) for _, a, _ in rows), default=0)
    print("| run | " + " | ".join(f"ep. {e + 1}" for e in range(width))
          + " | last | best | s | peak RSS MiB | commit |")
    print("| --- | " + " | ".join("---:" for _ in range(width)) + " | ---: | ---: | ---: | ---: | --- |")
    for name, accs, r in rows:
        cells = [f"{a:.3f}" for a in accs] + [""] * (width - len(accs))
        last = f"{accs[-1]:.3f}" if accs else ""
        best = f"{max(accs):.3f}" if accs else ""
        secs = f"{r['seconds']:.0f}" if r else "stopped"
        rss = f"{r['peak_rss_mib']:.0f}" if r else ""
        commit = r.get("commit", "")[:12]
        print(f"| {name} | " + " | ".join(cells) + f" | {last} | {best} | {secs} | {rss} | {commit} |")


if __name__ == "__main__":
    main()
