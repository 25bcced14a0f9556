"""The all-in-one mode as a newcomer meets it: time to the first stored span, and memory under the
demo shop's load.

Runs `aiops up` on embedded servers with a fresh data folder, records when the first span is
stored, then samples the resident memory of the `aiops up` process (and of the embedded
PostgreSQL it started) while the load generator runs.

    make bench-up                                   # 5 minutes of load
    .venv/bin/python bench/up.py --minutes 1
    .venv/bin/python bench/up.py --fresh-clone      # time `make up` on a fresh clone, install included
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PORT_OFFSET = 25_000
SERVER_URLS = ("AIOPS_DATABASE_URL", "AIOPS_BROKER_URL", "AIOPS_REDIS_URL")


def rows_written(detector_url: str) -> float:
    try:
        with urllib.request.urlopen(f"{detector_url}/metrics", timeout=2) as response:
            metrics = response.read().decode()
    except OSError:
        return 0.0
    match = re.search(r'^aiops_writer_rows_total{table="spans"} (\S+)$', metrics, flags=re.MULTILINE)
    return float(match[1]) if match else 0.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def postgres_rss_mb(pgdata: Path) -> float:
    """Resident memory of the embedded PostgreSQL: the postmaster and its children (they share
    memory, so the sum overstates it somewhat)."""
    try:
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
    return sum(rss_mb(int(pid)) for pid in [postmaster, *children])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0, help="minutes of load after the first span (5)")
    parser.add_argument(
        "--fresh-clone", action="store_true", help="clone the repository and run `make up` in it"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="aiops-bench-up-"))
    env = {k: v for k, v in os.environ.items() if k not in SERVER_URLS}
    env |= {"AIOPS_PORT_OFFSET": str(PORT_OFFSET), "AIOPS_LOG_FORMAT": "text"}
    if args.fresh_clone:
        clone = workdir / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        command, cwd, data_dir = ["make", "up"], clone, clone / ".aiops"
    else:
        data_dir = workdir / "data"
        command, cwd = [str(REPO / ".venv/bin/aiops"), "up", "--data-dir", str(data_dir)], REPO
    detector_url = f"http://127.0.0.1:{8001 + PORT_OFFSET}"
    log_path = workdir / "up.log"

    started = time.monotonic()
    with log_path.open("wb") as log:
        # Its own process group, so that Ctrl-C reaches `aiops up` under make as in a terminal.
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        while rows_written(detector_url) == 0:
            if process.poll() is not None:
                sys.exit(f"`{' '.join(command)}` exited with {process.returncode}; see {log_path}")
            if time.monotonic() - started > 900:
                sys.exit(f"no span stored after 15 minutes; see {log_path}")
            time.sleep(0.2)
        first_span_s = time.monotonic() - started
        print(f"command                          {' '.join(command)}")
        print(f"time to the first stored span    {first_span_s:.1f} s")

        # Under `make up` the process that serves is make's child.
        children = subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True
        ).stdout.split()
        pid = int(children[0]) if args.fresh_clone and children else process.pid
        print(
            f"{'minute':>6} {'spans stored':>14} {'aiops up RSS MB':>16} {'embedded PostgreSQL RSS MB':>28}"
        )
        load_started = time.monotonic()
        peak = 0.0
        while True:
            elapsed = time.monotonic() - load_started
            rss = rss_mb(pid)
            peak = max(peak, rss)
            print(
                f"{elapsed / 60:>6.1f} {rows_written(detector_url):>14,.0f} {rss:>16.0f}"
                f" {postgres_rss_mb(data_dir / 'pgdata'):>28.0f}",
                flush=True,
            )
            if elapsed >= args.minutes * 60:
                break
            time.sleep(min(30.0, args.minutes * 60 - elapsed) or 1)
        print(f"peak RSS of aiops up             {peak:.0f} MB (target: under 500 MB)")
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            code = process.wait(60)
            print(f"stopped with Ctrl-C, exit code   {code}" + (" (make's)" if args.fresh_clone else ""))
        except subprocess.TimeoutExpired:
            process.kill()
            print("did not stop within 60 s of Ctrl-C; killed")


if __name__ == "__main__":
    main()
