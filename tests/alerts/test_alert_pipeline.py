"""The pipeline raises and resolves the alert: a shipment held for a missing code queues one alert (however
often the store reports it), and the store adding the second tracking number later resolves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ordersyncd.journal import OrderState, ShipmentState
from ordersyncd.runtime import Daemon

from support import write_config

pytestmark = pytest.mark.anyio


async def until(condition: Any, timeout: float = 20) -> Any:
    with anyio.fail_after(timeout):
        while not (value := await condition()):
            await anyio.sleep(0.05)
        return value


async def test_held_shipment_queues_one_alert_and_the_second_code_resolves_it(
    fake_backend: Any, tmp_path: Path
):
    (order_id,) = fake_backend.world.generate(1, seed=9)
    config = write_config(tmp_path, fake_backend.base_url)
    daemon = Daemon(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(daemon.run)
        try:
            with anyio.fail_after(20):
                while not daemon.readiness()[0]:
                    await anyio.sleep(0.05)
            journal = daemon.journal
            assert journal is not None

            async def order_state(state: OrderState) -> bool:
                record = await journal.get_order("fake", order_id)
                return record is not None and record.state is state

            await until(lambda: order_state(OrderState.ACKNOWLEDGED))
            async with httpx.AsyncClient(base_url=fake_backend.base_url) as client:
                await client.post("/_control/ship", json={"order_id": order_id, "tracking_numbers": ["T1"]})
                await until(lambda: order_state(OrderState.HELD))
                (alert,) = await journal.alerts(connection="fake", order_id=order_id)
                assert (alert.condition, alert.state, alert.detail) == (
                    "codes_missing",
                    "queued",
                    "return tracking code missing",
                )
                # Reported again unchanged (polls overlap): still one alert.
                await anyio.sleep(1.5)
                assert len(await journal.alerts()) == 1
                # The store adds the return code as the second tracking number.
                await client.post(
                    "/_control/ship", json={"order_id": order_id, "tracking_numbers": ["T1", "R1"]}
                )
                await until(lambda: order_state(OrderState.SHIPPED))
            (alert,) = await journal.alerts()
            assert alert.state == "resolved" and alert.reminder_due_at is None
            (shipment,) = await journal.shipments(connection="fake", order_id=order_id)
            assert shipment.state is ShipmentState.SENT
        finally:
            daemon.request_stop()
