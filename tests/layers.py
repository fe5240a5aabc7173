#!/usr/bin/env python3
"""The include rule of DESIGN.md, checked on the source tree: layers point down only
(kernels <- runtime <- partitioner <- tools), and no circle between modules (a module is a .c
with its .h: x.c including y.h and y.c including x.h is a circle, as is any longer loop).
Prints each violation; exit status 1 if there is any."""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RANK = {"kernels": 0, "runtime": 1, "partitioner": 2, "tools": 3}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer(path):
    return RANK.get(path.split("/")[0])


def module(path):
    return os.path.splitext(path)[0]


def main():
    edges, bad = {}, []
    for top in RANK:
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if not f.endswith((".c", ".h", ".cu", ".cuh")):
                    continue
                src = os.path.relpath(os.path.join(d, f), ROOT)
                text = open(os.path.join(ROOT, src), errors="replace").read()
                for inc in INCLUDE.findall(text):
                    dst = os.path.normpath(os.path.join(os.path.dirname(src), inc))
                    if not os.path.exists(os.path.join(ROOT, dst)):
                        continue  # generated (build/gen) or a system header
                    if layer(dst) is not None and layer(dst) > layer(src):
                        bad.append(f"{src} includes {dst}: a higher layer")
                    if module(dst) != module(src):
                        edges.setdefault(module(src), set()).add(module(dst))
    # circles: depth-first search for a back edge, reporting each loop once
    state, seen_loops = {}, set()

    def visit(m, stack):
        state[m] = 1
        stack.append(m)
        for n in sorted(edges.get(m, ())):
            if state.get(n) == 1:
                loop = stack[stack.index(n):]
                key = frozenset(loop)
                if key not in seen_loops:
                    seen_loops.add(key)
                    bad.append("circle: " + " -> ".join(loop + [n]))
            elif n not in state:
                visit(n, stack)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [])
    for b in bad:
        print("  " + b)
    n_mod = len(set(edges) | {n for v in edges.values() for n in v})
    print(f"layers: {n_mod} modules, {sum(map(len, edges.values()))} include edges, "
          f"{len(bad)} violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
