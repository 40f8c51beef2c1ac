"""Start-up time of the command line: `evbill --help`, `evbill version`, `import evbill.cli`.

    .venv/bin/python bench/cli_startup.py              # 15 runs of each
    .venv/bin/python bench/cli_startup.py --runs 5

Each command runs in a fresh interpreter (`python -m evbill …`, as the `evbill` script does),
wall-clock from spawn to exit; the median, best and worst of N runs are printed. The machine
may be shared: the median is the figure to quote, the best run shows what an idle machine
gives. A bare `python -c pass` is measured too, the floor no command can go below.
"""

from __future__ import annotations

import argparse
import os
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


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "COLUMNS": "100"})  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(f"{'command':<26} {'median':>8} {'best':>8} {'worst':>8}   ({args.runs} runs, s)")
    for name, argv in COMMANDS.items():
        _time(argv)  # warm the file cache
        times = [_time(argv) for _ in range(args.runs)]
        print(f"{name:<26} {statistics.median(times):8.3f} {min(times):8.3f} {max(times):8.3f}")


if __name__ == "__main__":
    main()
