"""Two commits' speed side by side: bench/api.py of each, run alternately in one sitting
(A, B, A, B, ...) so that a machine that gets slower or faster during the run weighs on
both alike. Prints, per figure, the median over the rounds of each commit's p50 and p99,
and B against A in percent. Not a test.

Each commit runs from its own throwaway git worktree with this checkout's virtualenv, and
with its own bench/api.py (so both measure what their tree serves).

Usage: python bench/abtest.py BEFORE AFTER [--rounds 3] [--requests 1000] [--postgres URL]"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("ping sequential", "ping 8 clients", "placeorder MARKET sequential", "funds sequential",
           "positionbook sequential", "quotes sequential")
LINE = re.compile(r"^(?P<label>.+?)\s+\d+ req\s+(?P<rps>\d+) req/s\s+p50\s+(?P<p50>[\d.]+) ms\s+"
                  r"p95\s+[\d.]+ ms\s+p99\s+(?P<p99>[\d.]+) ms")


def run_bench(tree: Path, requests: int, postgres: str | None) -> dict[str, tuple[float, float]]:
    command = [sys.executable, "bench/api.py", "--requests", str(requests)]
    if postgres:
        command += ["--postgres", postgres]
    out = subprocess.run(command, cwd=tree, check=True, capture_output=True, text=True, timeout=1800).stdout
    figures = {}
    for line in out.splitlines():
        match = LINE.match(line.strip())
        if match and match["label"].strip() in FIGURES:
            figures[match["label"].strip()] = (float(match["p50"]), float(match["p99"]))
    missing = set(FIGURES) - set(figures)
    if missing:
        raise SystemExit(f"{tree}: bench/api.py printed no {sorted(missing)}:\n{out}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--postgres", help="e.g. postgres://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openalgo-abtest-") as tmp:
        trees = {}
        for name, rev in (("A", args.before), ("B", args.after)):
            tree = Path(tmp) / name
            subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), rev], cwd=ROOT, check=True)
            trees[name] = tree
        try:
            results: dict[str, list[dict[str, tuple[float, float]]]] = {"A": [], "B": []}
            for number in range(1, args.rounds + 1):
                for name in ("A", "B"):
                    print(f"round {number}/{args.rounds}: {name} ...", file=sys.stderr, flush=True)
                    results[name].append(run_bench(trees[name], args.requests, args.postgres))
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    print(f"A = {args.before}, B = {args.after}: medians of {args.rounds} alternating rounds of bench/api.py")
    print(f"{'figure':<30} {'A p50':>8} {'B p50':>8} {'B/A':>7}   {'A p99':>8} {'B p99':>8} {'B/A':>7}")
    for figure in FIGURES:
        a50, b50, a99, b99 = (statistics.median(run[figure][index] for run in results[name])
                              for index, name in ((0, "A"), (0, "B"), (1, "A"), (1, "B")))
        print(f"{figure:<30} {a50:>6.2f}ms {b50:>6.2f}ms {(b50 / a50 - 1) * 100:>+6.1f}%   "
              f"{a99:>6.2f}ms {b99:>6.2f}ms {(b99 / a99 - 1) * 100:>+6.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
