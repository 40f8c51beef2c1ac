"""Start-up time of the command line: `evbill --help`, `evbill version`, `import evbill.cli`.

    .venv/bin/python bench/cli_startup.py              # 15 runs of each
    .venv/bin/python bench/cli_startup.py --runs 5

Each command runs in a fresh interpreter (`python -m evbill …`, as the `evbill` script does),
wall-clock from spawn to exit; the median, best and worst of N runs are printed. The machine
may be shared: the median is the figure to quote, the best run shows what an idle machine
gives; the CPU time of the child (user + system) depends least on the other load. A bare
`python -c pass` is measured too, the floor no command can go below.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

COMMANDS: dict[str, list[str]] = {
    "python -c pass (floor)": [sys.executable, "-c", "pass"],
    "import evbill.cli": [sys.executable, "-c", "import evbill.cli"],
    "evbill --help": [sys.executable, "-m", "evbill", "--help"],
    "evbill version": [sys.executable, "-m", "evbill", "version"],
    "evbill stations --help": [sys.executable, "-m", "evbill", "stations", "--help"],
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(argv: list[str]) -> tuple[float, float]:
    """(wall-clock, CPU time of the child) in seconds."""
    start, cpu = time.perf_counter(), _cpu()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "COLUMNS": "100"})  # fmt: skip
    return time.perf_counter() - start, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(f"{'command':<26} {'median':>8} {'best':>8} {'worst':>8} {'CPU med.':>9}"
          f"   ({args.runs} runs, s)")
    for name, argv in COMMANDS.items():
        _time(argv)  # warm the file cache
        runs = [_time(argv) for _ in range(args.runs)]
        wall = [w for w, _ in runs]
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:<26} {statistics.median(wall):8.3f} {min(wall):8.3f} {max(wall):8.3f} "
              f"{cpu:9.3f}")


if __name__ == "__main__":
    main()
