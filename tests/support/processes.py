"""Platform services as separate processes (`aiops serve NAME`), as they run in production."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.waiting import eventually

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
AIOPS = str(Path(sys.executable).parent / "aiops")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    def __init__(
        self, name: str, env: dict[str, str], *, port: int | None = None, log_name: str | None = None
    ) -> None:
        self.name = name
        self.port = port or free_port()
        self.env = {**os.environ, "AIOPS_LOG_FORMAT": "json", **env}
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"{log_name or name}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [AIOPS, "serve", self.name, "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        async with httpx.AsyncClient(timeout=2) as client:

            async def probe() -> int:
                if self.process is not None and self.process.poll() is not None:
                    raise AssertionError(
                        f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    return (await client.get(f"{self.url}/readyz")).status_code
                except httpx.TransportError:
                    return 0

            await eventually(probe, lambda code: code == 200, timeout_s=timeout_s, what=f"{self.name} ready")

    def kill(self) -> None:
        """SIGKILL: no chance to finish or acknowledge anything."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def terminate(self, timeout_s: float = 40.0) -> int:
        """SIGTERM, as Kubernetes sends it; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.terminate(15)
            except subprocess.TimeoutExpired:
                self.kill()
