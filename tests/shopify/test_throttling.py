"""Cost-based throttling: the plugin waits on its model of the bucket and retries THROTTLED answers."""

from __future__ import annotations

import time

import anyio
import pytest

from ordersyncd.plugin import ConnectionInfo, RateLimited
from ordersyncd_plugins.store_shopify.simulator import ShopifySimulator
from ordersyncd_plugins.store_shopify.throttle import CostBucket

from .conftest import StoreFactory, make_order

pytestmark = pytest.mark.anyio


async def test_burst_of_creates_under_a_small_bucket(
    sim: ShopifySimulator, make_store: StoreFactory, connection: ConnectionInfo
) -> None:
    sim.set_throttle(bucket_size=60, restore_rate=200)
    store = await make_store(sim)
    results = {}

    async def create(index: int) -> None:
        results[index] = await store.create_order(connection, make_order(f"B{index}"))

    started = time.monotonic()
    async with anyio.create_task_group() as group:
        for index in range(20):
            group.start_soon(create, index)
    elapsed = time.monotonic() - started

    assert len(results) == 20
    assert len({ref.store_order_id for ref in results.values()}) == 20
    assert len(sim.orders()) == 20
    # the plugin waited for the bucket instead of provoking THROTTLED
    assert sim.stats.throttled == 0
    assert store.graphql.throttled == 0
    assert store.graphql.bucket.waited > 0
    # 20 x (FindOrder + OrderCreate) and one variant lookup cost far more than the bucket holds
    assert sim.stats.points > 60
    assert elapsed >= (sim.stats.points - 60) / 200 * 0.8


async def test_throttled_answer_is_retried_after_the_bucket_refills(
    sim: ShopifySimulator, make_store: StoreFactory, connection: ConnectionInfo
) -> None:
    sim.set_throttle(bucket_size=100, restore_rate=100)
    store = await make_store(sim)
    await store.check_credentials()  # the plugin now believes the bucket is (nearly) full
    sim.drain(100)  # another app spends everything behind our back

    ref = await store.create_order(connection, make_order())
    assert ref.number == sim.orders()[0].name
    assert sim.stats.throttled >= 1
    assert store.graphql.throttled == sim.stats.throttled


async def test_persistent_throttling_surfaces_as_rate_limited(
    sim: ShopifySimulator, make_store: StoreFactory, connection: ConnectionInfo
) -> None:
    sim.set_throttle(bucket_size=100, restore_rate=100)
    store = await make_store(sim, max_throttle_retries=0)
    await store.check_credentials()
    sim.drain(100)
    with pytest.raises(RateLimited) as caught:
        await store.create_order(connection, make_order())
    assert 0 < caught.value.retry_after <= 1.0
    assert sim.orders() == []


async def test_an_answer_does_not_hand_out_points_reserved_by_requests_in_flight() -> None:
    """Shopify's currentlyAvailable does not yet include requests still in flight; the model must keep them."""
    now = [0.0]
    bucket = CostBucket(clock=lambda: now[0])
    bucket.update(
        "Q", {"throttleStatus": {"maximumAvailable": 100, "currentlyAvailable": 100, "restoreRate": 10}}
    )
    first = await bucket.reserve(40)
    second = await bucket.reserve(40)
    assert (first, second, bucket.in_flight) == (40, 40, 80)
    # The first answer comes back: the server charged it (60 left) but has not seen the second request yet.
    bucket.request_done(first)
    bucket.update(
        "Q", {"throttleStatus": {"maximumAvailable": 100, "currentlyAvailable": 60, "restoreRate": 10}}
    )
    assert bucket.available() == 20  # 60 at the server minus the 40 still in flight, not 60
    bucket.request_done(second)
    assert bucket.in_flight == 0
