#!/usr/bin/env python3
"""Fails when the crate's top-level modules import each other in a cycle.

Reads every `crate::<module>` path in the code of src/ (comments, doc links and `#[cfg(test)]`
modules left out), builds the graph of which top-level module uses which, and prints each
cycle. Run by .ci/run:

    python3 tools/module_cycles.py [src]
"""
import glob
import os
import re
import sys


def edges(src):
    graph = {}
    for path in glob.glob(os.path.join(src, "**", "*.rs"), recursive=True):
        module = os.path.relpath(path, src).split(os.sep)[0].removesuffix(".rs")
        if module in ("lib", "main"):
            continue
        with open(path) as f:
            text = re.split(r"#\[cfg\(test\)\]", f.read())[0]
        code = "\n".join(line for line in text.splitlines() if not line.strip().startswith("//"))
        for used in re.findall(r"crate::([a-z_][a-z0-9_]*)", code):
            if used != module:
                graph.setdefault(module, set()).add(used)
    return graph


def cycles(graph):
    """Every pair of modules that reach each other, with one path each way."""
    def path(a, b):
        stack, seen = [(a, [a])], {a}
        while stack:
            node, trail = stack.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == b:
                    return trail + [b]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
        return None

    found = []
    for a in sorted(graph):
        for b in sorted(graph[a]):
            back = path(b, a)
            if back and a < b:
                found.append([a] + back)
    return found


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "src"
    found = cycles(edges(src))
    for cycle in found:
        print("import cycle: " + " -> ".join(cycle))
    if found:
        sys.exit(1)
    print(f"no import cycles between the modules of {src}/")


if __name__ == "__main__":
    main()
