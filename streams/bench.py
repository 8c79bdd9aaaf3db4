"""``make bench``: the benchmark suite (throughput, latency and cost ratios against baselines)."""

from __future__ import annotations

import sys


def main() -> int:
    """Placeholder until the benchmark issue: says so instead of printing invented figures."""
    print("no benchmarks yet: `make bench` gets its measurements with the benchmark issue")
    return 0


if __name__ == "__main__":
    sys.exit(main())
