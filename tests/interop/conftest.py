"""Fixtures: a real `tracetail serve` per test, on its own port and temporary data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub import Hub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A started server; stopped with SIGTERM at the end (SIGKILL if it hangs)."""
    server = Hub(data_dir=tmp_path / "data", log_path=tmp_path / "tracetail.log")
    server.start()
    try:
        yield server
    finally:
        # Shown by pytest only when the test failed.
        print(server.log_tail(80))
        if server.process is not None:
            try:
                server.stop()
            finally:
                server.kill()
