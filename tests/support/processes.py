"""The platform as separate processes (`aiops serve NAME`, `aiops up`), as it runs for real."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Self
from uuid import uuid4

import httpx

from tests.support.waiting import eventually

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
AIOPS = str(Path(sys.executable).parent / "aiops")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_offset(ports: tuple[int, ...], *, low: int = 20_000, high: int = 40_000) -> int:
    """An offset that makes every one of `ports` free to bind right now."""
    for offset in range(low, high, 97):
        try:
            for port in ports:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        return offset
    raise RuntimeError(f"no free port block for {ports}")


class AiopsProcess:
    """`aiops ARGS...` as a child process, its output in artifacts/, ready when `ready_url`'s
    /readyz answers 200."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        *,
        ready_url: str,
        log_name: str,
        unset: tuple[str, ...] = (),
    ) -> None:
        self.args = args
        self.ready_url = ready_url
        self.env = {k: v for k, v in os.environ.items() if k not in unset} | {
            "AIOPS_LOG_FORMAT": "json",
            **env,
        }
        ARTIFACTS.mkdir(exist_ok=True)
        # Unique, so that a later run (or a restart) never reads an earlier one's lines.
        self.log_path = ARTIFACTS / f"{log_name}-{uuid4().hex[:6]}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [AIOPS, *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return self

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        async with httpx.AsyncClient(timeout=2) as client:

            async def probe() -> int:
                if self.process is not None and self.process.poll() is not None:
                    raise AssertionError(
                        f"{self.args} exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    return (await client.get(f"{self.ready_url}/readyz")).status_code
                except httpx.TransportError:
                    return 0

            await eventually(probe, lambda code: code == 200, timeout_s=timeout_s, what=f"{self.args} ready")

    def kill(self) -> None:
        """SIGKILL: no chance to finish or acknowledge anything."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def signal(self, sig: int, timeout_s: float = 60.0) -> int:
        """Send `sig` (SIGTERM as Kubernetes does, SIGINT as Ctrl-C does); return the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{self.args} still running {timeout_s:.0f} s after signal {sig}, killed:\n"
                + self.log_tail(80)
            ) from None

    def terminate(self, timeout_s: float = 60.0) -> int:
        return self.signal(signal.SIGTERM, timeout_s)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def json_logs(self) -> list[dict[str, object]]:
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
        return records

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(AssertionError):  # killed, if it did not stop in time
                self.terminate(15)


class ServiceProcess(AiopsProcess):
    """One service, `aiops serve NAME`, on a free port."""

    def __init__(
        self, name: str, env: dict[str, str], *, port: int | None = None, log_name: str | None = None
    ) -> None:
        self.name = name
        self.port = port or free_port()
        super().__init__(
            ["serve", name, "--host", "127.0.0.1", "--port", str(self.port)],
            env,
            ready_url=f"http://127.0.0.1:{self.port}",
            log_name=f"{log_name or name}-{self.port}",
        )

    @property
    def url(self) -> str:
        return self.ready_url
