"""A real three-node Redis Cluster on local ports, for the tests that check the platform's keys
and scripts on one: `redis-server --cluster-enabled yes` three times, joined by
`redis-cli --cluster create`, nothing kept on disk but the nodes' own cluster files."""

from __future__ import annotations

import random
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

NODES = 3
# Redis Cluster talks between nodes on the client port + 10000.
BUS_PORT_OFFSET = 10000


@contextmanager
def running_cluster(directory: Path, *, timeout_s: float = 30.0) -> Iterator[str]:
    """Start a cluster whose files live in `directory`; yields the URL of its first node and
    stops every node on the way out."""
    ports = _free_ports(NODES)
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            nodes.append(_start_node(directory, port))
        for port in ports:
            _wait(lambda port=port: _answers(port), timeout_s, f"redis node on {port} accepting connections")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports), "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=timeout_s,
        )
        for port in ports:
            _wait(lambda port=port: _cluster_ok(port), timeout_s, f"cluster_state:ok on {port}")
        yield f"redis://127.0.0.1:{ports[0]}"
    finally:
        for node in nodes:
            node.terminate()
        for node in nodes:
            try:
                node.wait(timeout=10)
            except subprocess.TimeoutExpired:
                node.kill()


def _start_node(directory: Path, port: int) -> subprocess.Popen[bytes]:
    node_dir = directory / str(port)
    node_dir.mkdir(parents=True, exist_ok=True)
    options = {
        "port": port,
        "bind": "127.0.0.1",
        "cluster-enabled": "yes",
        "cluster-config-file": "nodes.conf",
    }
    options |= {"dir": node_dir, "save": "", "appendonly": "no"}
    return subprocess.Popen(
        ["redis-server", *(item for name, value in options.items() for item in (f"--{name}", str(value)))],
        stdout=(node_dir / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def _free_ports(count: int) -> list[int]:
    """Ports free for a node and for its cluster bus port."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20000, 29999)
        if port not in ports and _free(port) and _free(port + BUS_PORT_OFFSET):
            ports.append(port)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _answers(port: int) -> bool:
    return _cli(port, "ping") == "PONG"


def _cluster_ok(port: int) -> bool:
    return "cluster_state:ok" in _cli(port, "cluster", "info")


def _cli(port: int, *command: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *command], capture_output=True, text=True, timeout=10
    )
    return done.stdout.strip()


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout_s}s")
        time.sleep(0.1)
