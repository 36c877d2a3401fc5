"""Where the CPU goes: the functions that py-spy's collapsed stacks (`bench.run --profile`)
spend the most samples in, by own time and by inclusive time.

    .venv/bin/python -m bench.profile bench-results/profile/gateway
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def tally(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    total, own, inclusive = 0, Counter[str](), Counter[str]()
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return total, own, inclusive


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for path in args.paths:
        total, own, inclusive = tally(path)
        print(f"== {path} ({total} samples)")
        for title, counter in (("own", own), ("inclusive", inclusive)):
            print(f"-- by {title} time")
            for frame, count in counter.most_common(args.top):
                print(f"{100 * count / max(total, 1):5.1f}%  {frame[:150]}")


if __name__ == "__main__":
    main()
