"""Haven Web's figures (first-load bytes, opening 500 messages) with their output shown: the
browser test module that measures them, run alone (`make web` first builds the app)."""

from __future__ import annotations

import sys

import pytest

MODULE = "tests/browser/test_performance.py"


def main() -> int:
    return int(pytest.main([MODULE, "-q", "-s", *sys.argv[1:]]))


if __name__ == "__main__":
    raise SystemExit(main())
