"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ordersyncd.testing import Faults, serve_asgi
from ordersyncd_fakes.server import FakeWorld, create_app

from support import FakeBackend


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_backend() -> Iterator[FakeBackend]:
    world = FakeWorld()
    faults = Faults(seed=1)
    with serve_asgi(create_app(world, faults)) as served:
        yield FakeBackend(world, faults, served)


@pytest.fixture
def output_dir(request: pytest.FixtureRequest) -> Path:
    """A per-test folder under test-output/ for artefacts people may want to look at (logs, screenshots)."""
    path = Path(__file__).parent.parent / "test-output" / request.node.name.replace("/", "_")
    path.mkdir(parents=True, exist_ok=True)
    return path
