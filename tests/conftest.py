"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ordersyncd.testing import Faults, ServedApp, serve_asgi
from ordersyncd_fakes.server import FakeWorld, create_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeBackend:
    """The fake marketplace and store server, served on 127.0.0.1, with its world and faults at hand."""

    def __init__(self, world: FakeWorld, faults: Faults, served: ServedApp) -> None:
        self.world = world
        self.faults = faults
        self.served = served
        self.base_url = served.base_url


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
