"""The real `tracetail serve` process under test: start, wait until ready, stop, kill, restart.

The binary is `$TRACETAIL_BIN` (scripts/test-all points it at the release build). Each
[`Hub`] owns one data directory and one loopback port for its whole life, so a restart finds
the same store at the same address, as a client reconnecting after a crash would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

# How long the server gets to answer `/readyz` after it is started.
READY_TIMEOUT = 20.0
# How long a graceful stop (SIGTERM) may take; the server's own grace is a few seconds.
STOP_TIMEOUT = 15.0
# Short intervals keep the tests quick: heartbeats show a stream is idle, retry paces reconnects.
HEARTBEAT = "1s"
RETRY = "200ms"

REPO_ROOT = Path(__file__).resolve().parents[2]


def binary() -> Path:
    """The binary under test: `$TRACETAIL_BIN`, else the repository's release build."""
    named = os.environ.get("TRACETAIL_BIN")
    path = Path(named) if named else REPO_ROOT / "target" / "release" / "tracetail"
    if not path.is_file() or not os.access(path, os.X_OK):
        raise RuntimeError(
            f"tracetail binary not found at {path}: build it with "
            "`cargo build --release -p tracetail` or set TRACETAIL_BIN"
        )
    return path


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Hub:
    """One `tracetail serve` on 127.0.0.1:`port` with `--data-dir data_dir`."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        # `--retry` of the next start: the reconnect delay streams announce to their clients.
        self.retry = RETRY

    def start(self) -> None:
        """Starts the server and returns once `/readyz` answers 200."""
        assert self.process is None, "already running"
        self.starts += 1
        command = [
            str(binary()),
            "serve",
            "--listen", f"127.0.0.1:{self.port}",
            "--data-dir", str(self.data_dir),
            "--heartbeat", HEARTBEAT,
            "--retry", self.retry,
        ]
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start #{self.starts}: {' '.join(command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        last_problem = "no answer yet"
        while time.monotonic() < deadline:
            assert self.process is not None
            code = self.process.poll()
            if code is not None:
                self.process = None
                raise AssertionError(
                    f"tracetail serve exited with {code} before it was ready\n{self.log_tail()}"
                )
            try:
                response = httpx.get(f"{self.base}/readyz", timeout=2.0)
                if response.status_code == 200:
                    return
                last_problem = f"/readyz answered {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as error:
                last_problem = f"/readyz: {error!r}"
            time.sleep(0.05)
        self.kill()
        raise AssertionError(
            f"tracetail serve not ready after {READY_TIMEOUT}s ({last_problem})\n{self.log_tail()}"
        )

    def stop(self) -> int:
        """SIGTERM, then waits; fails (after SIGKILL) if the server does not exit in time."""
        process = self._take()
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
            raise AssertionError(
                f"tracetail serve still running {STOP_TIMEOUT}s after SIGTERM\n{self.log_tail()}"
            ) from None

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown code runs."""
        if self.process is None:
            return
        process = self._take()
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> None:
        """Graceful stop (asserting a clean exit), then start on the same port and store."""
        code = self.stop()
        assert code == 0, f"tracetail serve exited with {code} after SIGTERM\n{self.log_tail()}"
        self.start()

    def _take(self) -> subprocess.Popen[bytes]:
        assert self.process is not None, "not running"
        process, self.process = self.process, None
        return process

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server output)"
        return "--- tracetail serve output (tail) ---\n" + "\n".join(text[-lines:])
