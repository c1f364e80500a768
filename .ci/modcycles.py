#!/usr/bin/env python3
"""Module dependency cycles inside one Rust crate's src/ folder.

(A copy of the team's shared tool, ../shared/tools/modcycles.py, so that CI needs nothing
outside this repository.)

usage: .ci/modcycles.py framework/src [--dot] [--layers "h1 < app,router,request < server"]

A module is a file (`conn.rs`) or a folder (`server/`, with everything under it). A module
depends on another when its code names it: `use crate::x`, `crate::x::...`, `super::x` from a
folder's child, or `x::` through a `use crate::{x, ...}` group. Tests (`#[cfg(test)] mod`
blocks and files named `tests.rs` or `proptests.rs`) are left out: tests may reach anywhere.
Prints each strongly connected group of two or more modules (a circle of imports), and the
edges inside it with one line of evidence each. Exit status 1 when there is a circle.

With --layers, modules are grouped into layers, lowest first, separated by `<`, modules of a
layer by commas (a folder counts as one module). Then a circle inside one layer is allowed, and
what fails is an arrow from a lower layer up to a higher one, or a module left out of every
layer; each is printed with its evidence.
"""
import os, re, sys
from collections import defaultdict

def modules(src):
    mods = {}
    for entry in sorted(os.listdir(src)):
        path = os.path.join(src, entry)
        if entry.endswith(".rs") and entry not in ("lib.rs", "main.rs", "proptests.rs", "tests.rs"):
            mods[entry[:-3]] = [path]
        elif os.path.isdir(path):
            files = []
            for root, _, names in os.walk(path):
                files += [os.path.join(root, n) for n in names if n.endswith(".rs") and n not in ("tests.rs", "proptests.rs")]
            mods[entry] = sorted(files)
    return mods

def strip_tests(text):
    # Drop `#[cfg(test)] mod x { ... }` blocks by brace matching.
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)

def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)

def deps(mods):
    names = set(mods)
    edges = defaultdict(dict)
    for mod, files in mods.items():
        for f in files:
            text = strip_comments(strip_tests(open(f, encoding="utf-8").read()))
            in_folder = os.path.basename(os.path.dirname(f)) == mod
            for line in text.splitlines():
                found = set(re.findall(r"\bcrate::(\w+)", line))
                g = re.search(r"\bcrate::\{([^}]*)\}", line)
                if g:
                    found |= set(re.findall(r"(?:^|,)\s*(\w+)", g.group(1)))
                if in_folder:
                    found |= set(re.findall(r"\bsuper::super::(\w+)", line))
                else:
                    found |= set(re.findall(r"\bsuper::(\w+)", line))
                for other in found & names - {mod}:
                    edges[mod].setdefault(other, "%s: %s" % (os.path.relpath(f), line.strip()[:100]))
    return edges

def sccs(nodes, edges):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop(); on.discard(w); group.append(w)
                if w == v:
                    break
            out.append(sorted(group))
    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out

def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src = args[0] if args else "framework/src"
    mods = modules(src)
    edges = deps(mods)
    if "--dot" in sys.argv:
        print("digraph crate {")
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print('  "%s" -> "%s";' % (a, b))
        print("}")
        return 0
    if "--layers" in sys.argv:
        spec = sys.argv[sys.argv.index("--layers") + 1]
        args = [a for a in args if a != spec]
        src = args[0] if args else "framework/src"
        mods = modules(src); edges = deps(mods)
        level = {}
        for i, layer in enumerate(spec.split("<")):
            for m in layer.split(","):
                if m.strip():
                    level[m.strip()] = i
        bad = 0
        for m in sorted(set(mods) - set(level)):
            print("not in any layer: %s" % m); bad += 1
        for m in sorted(set(level) - set(mods)):
            print("no such module: %s" % m); bad += 1
        for a in sorted(edges):
            for b in sorted(edges[a]):
                if a in level and b in level and level[b] > level[a]:
                    print("upward: %s -> %s   (%s)" % (a, b, edges[a][b])); bad += 1
        print("%d modules in %d layers, %d problems" % (len(mods), len(spec.split("<")), bad))
        return 1 if bad else 0
    circles = [g for g in sccs(mods, edges) if len(g) > 1]
    for g in circles:
        print("circle of %d modules: %s" % (len(g), ", ".join(g)))
        for a in g:
            for b in sorted(edges[a]):
                if b in g:
                    print("  %s -> %s   (%s)" % (a, b, edges[a][b]))
    print("%d modules, %d circles" % (len(mods), len(circles)))
    return 1 if circles else 0

if __name__ == "__main__":
    sys.exit(main())
