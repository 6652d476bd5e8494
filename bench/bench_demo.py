"""Demo benchmark: `hubspot-metrics demo` as a new user runs it, N times, each in a fresh folder.

Prints each run's wall time and CPU time (user + sys of the demo and of every process it
waited for, the simulated portal's included), then the min and median of both, and the load
average: the target is a demo under 5 s wall, so a busy machine must show beside the figures.

An installed package has its bytecode compiled (pip does it), so the runs may write theirs
(PYTHONDONTWRITEBYTECODE is dropped) and one uncounted run comes first: without it every run
would compile the package's modules again and measure the compiler.

    python bench/bench_demo.py            # 5 runs
    python bench/bench_demo.py --runs 9
    PYTHONPATH=/tmp/old-checkout python bench/bench_demo.py   # another version of the code
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def demo_command() -> list[str]:
    """The installed `hubspot-metrics` beside this Python, as a user types it; `-m` otherwise."""
    script = Path(sys.executable).parent / "hubspot-metrics"
    return [str(script), "demo"] if script.exists() else [sys.executable, "-m", "hubspot_metrics", "demo"]


def one_run(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one demo in a fresh folder, with no HubSpot settings of the user's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSPOT_") and k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as folder:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="How many demos to run (default 5).")
    args = parser.parse_args()
    command = demo_command()
    print(f"{' '.join(command)}, {args.runs} runs, load average before: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    one_run(command)  # (uncounted: writes the bytecode an installed package already has)
    walls, cpus = [], []
    for n in range(1, args.runs + 1):
        wall, cpu = one_run(command)
        walls.append(wall)
        cpus.append(cpu)
        print(f"run {n}: wall {wall:.2f} s, user+sys {cpu:.2f} s")
    print(f"wall: min {min(walls):.2f} s, median {statistics.median(walls):.2f} s (target < 5 s)")
    print(f"user+sys: min {min(cpus):.2f} s, median {statistics.median(cpus):.2f} s")
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
