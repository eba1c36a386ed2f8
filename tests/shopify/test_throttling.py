"""Cost-based throttling: the plugin waits on its model of the bucket and retries THROTTLED answers."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from ordersyncd.plugin import ConnectionInfo, RateLimited
from ordersyncd_plugins.store_shopify.graphql_client import QueryTooCostly
from ordersyncd_plugins.store_shopify.simulator import ShopifySimulator
from ordersyncd_plugins.store_shopify.throttle import CostBucket

from .conftest import StoreFactory, make_order

pytestmark = pytest.mark.anyio


async def test_burst_of_creates_under_a_small_bucket(
    sim: ShopifySimulator, make_store: StoreFactory, connection: ConnectionInfo
) -> None:
    sim.set_throttle(bucket_size=60, restore_rate=100)
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
    assert elapsed >= (sim.stats.points - 60) / 100 * 0.8


async def test_throttled_answer_is_retried_after_the_bucket_refills(
    sim: ShopifySimulator, make_store: StoreFactory, connection: ConnectionInfo
) -> None:
    sim.set_throttle(bucket_size=100, restore_rate=100)
    store = await make_store(sim)
    await store.check_credentials()  # the plugin now believes the bucket is (nearly) full
    sim.drain(100)  # another app spends everything behind our back

    ref = await store.create_order(connection, make_order())
    assert ref.number == sim.orders()[0].name
    # The THROTTLED answer's status is in the model, so the retry waits just long enough: one is enough.
    assert sim.stats.throttled == 1
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


async def test_a_query_costlier_than_the_bucket_fails_at_once(
    sim: ShopifySimulator, make_store: StoreFactory
) -> None:
    """Requested cost above maximumAvailable can never run: no waiting, no retries, and not sent again."""
    sim.set_throttle(bucket_size=100, restore_rate=100)
    store = await make_store(sim)
    big = "query Big { orders(first: 150) { nodes { id } } }"  # requested 2 + 150
    with pytest.raises(QueryTooCostly) as caught:
        await store.graphql.execute("Big", big, cost=152)
    assert (caught.value.requested, caught.value.maximum) == (152, 100)
    assert sim.stats.throttled == 1
    sent = len(sim.recorder.exchanges)
    with pytest.raises(QueryTooCostly):
        await store.graphql.execute("Big", big, cost=152)
    assert len(sim.recorder.exchanges) == sent


# ------------------------------------------------------------------------------ the model, with a fake clock


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def answer(
    requested: float, actual: float | None, current: float, maximum: float = 100, rate: float = 10
) -> Any:
    """``extensions.cost`` as Shopify sends it (``actual`` None: THROTTLED)."""
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": {"maximumAvailable": maximum, "currentlyAvailable": current, "restoreRate": rate},
    }


async def known_bucket(clock: Clock, current: float = 100) -> CostBucket:
    """A model that has seen one answer (at t = -1): 100 points, restoring 10/s, ``current`` available."""
    bucket = CostBucket(clock=clock)
    clock.now = -1.0
    probe = await bucket.reserve(1)  # the first call goes alone, unchecked
    bucket.settle(probe, "Probe", answer(1, 1, current))
    clock.now = 0.0
    assert bucket.known
    return bucket


async def test_an_answer_does_not_hand_out_points_reserved_by_requests_in_flight() -> None:
    """Shopify's currentlyAvailable does not yet include requests still in flight; the model must keep them."""
    clock = Clock()
    bucket = await known_bucket(clock)
    first = await bucket.reserve(40)
    second = await bucket.reserve(40)
    assert bucket.in_flight == 80
    assert bucket.available() == 20
    # The first answer comes back: the server charged it (60 left) but has not seen the second request yet.
    clock.now = 0.001
    bucket.settle(first, "Q", answer(40, 40, current=60))
    assert bucket.available() == 20  # 60 at the server minus the 40 still in flight, not 60
    clock.now = 0.002
    bucket.settle(second, "Q", answer(40, 40, current=20))
    assert bucket.in_flight == 0
    assert bucket.available() == pytest.approx(20, abs=0.1)


async def test_a_late_answer_with_an_older_status_does_not_raise_the_model() -> None:
    clock = Clock()
    bucket = await known_bucket(clock)
    first = await bucket.reserve(40)
    second = await bucket.reserve(40)
    # The server ran first (100 -> 60) then second (60 -> 20); the answers arrive the other way round.
    clock.now = 0.5
    bucket.settle(second, "Q", answer(40, 40, current=20))
    assert bucket.available() == -20  # first is still counted (the server may not have run it yet)
    clock.now = 0.6
    bucket.settle(first, "Q", answer(40, 40, current=60))
    # 60 is older than second's charge: second (answered after first was sent) still counts
    assert bucket.available() == 20
    clock.now = 1.6
    assert bucket.available() == 30  # restore since the answer arrived


async def test_the_refund_counts_as_soon_as_the_calls_own_answer_tells_it() -> None:
    clock = Clock()
    bucket = await known_bucket(clock)
    big = await bucket.reserve(50)  # requested 50, will cost 10
    small = await bucket.reserve(20)
    assert bucket.available() == 30
    # Server: big 100 -> 50, runs, refund 40 -> 90; small 90 -> 70. small's answer arrives first.
    clock.now = 0.001
    bucket.settle(small, "Small", answer(20, 20, current=70))
    assert bucket.available() == 20  # big still counted at its requested 50
    clock.now = 0.002
    bucket.settle(big, "Big", answer(50, 10, current=90))
    assert bucket.available() == pytest.approx(70, abs=0.1)  # what the server has
    assert bucket.estimate("Big", 99) == 50  # the next Big reserves what Shopify requests


async def test_a_throttled_call_took_nothing() -> None:
    clock = Clock()
    bucket = await known_bucket(clock)
    call = await bucket.reserve(50)
    # another app spent most of the bucket: the server has 30 and refuses
    bucket.settle(call, "Q", answer(50, None, current=30), taken_nothing=True)
    assert bucket.in_flight == 0
    assert bucket.available() == 30
    clock.now = 2.0
    assert bucket.available() == 50


async def test_a_throttled_answer_replaces_what_the_model_believed() -> None:
    clock = Clock()
    bucket = await known_bucket(clock)
    first = await bucket.reserve(10)
    second = await bucket.reserve(10)
    clock.now = 0.001
    bucket.settle(first, "Q", answer(10, 10, current=90))
    # another app drains the bucket; second, sent alongside first, is refused
    clock.now = 0.002
    bucket.settle(second, "Q", answer(10, None, current=5), taken_nothing=True)
    # not first's 90: at most the 5 the server reported (less while first may not be counted in it)
    assert bucket.available() <= 5
    clock.now = 1.002
    assert bucket.available() <= 15


async def test_a_call_without_answer_counts_until_a_later_status_includes_it() -> None:
    clock = Clock()
    bucket = await known_bucket(clock)
    lost = await bucket.reserve(30)
    clock.now = 0.1
    bucket.settle(lost, "Q", None)  # timed out: it may have run
    assert bucket.available() == 70
    clock.now = 0.2
    later = await bucket.reserve(10)
    assert bucket.available() == 60
    clock.now = 0.3
    bucket.settle(later, "Q", answer(10, 10, current=60))  # sent after the lost one ended: includes it
    assert bucket.available() == 60


async def test_restore_runs_from_the_answer_up_to_the_maximum() -> None:
    clock = Clock()
    bucket = await known_bucket(clock, current=0)
    assert bucket.available() == 10  # the answer arrived 1 s ago
    clock.now = 2.0
    assert bucket.available() == 30
    clock.now = 60.0
    assert bucket.available() == 100


async def test_a_waiting_reservation_wakes_when_an_answer_refunds() -> None:
    """Real clock: restore alone would take 40 s; the refund of the call in flight makes room at once."""
    bucket = CostBucket()
    probe = await bucket.reserve(1)
    bucket.settle(probe, "Probe", answer(1, 1, current=100, rate=1))
    first = await bucket.reserve(90)
    got: list[float] = []

    async def second() -> None:
        got.append((await bucket.reserve(50)).cost)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(second)
            await anyio.sleep(0.05)
            assert got == []  # 10 available: waiting
            bucket.settle(first, "Q", answer(90, 5, current=95, rate=1))
    assert got == [50]
    assert bucket.waited < 1


async def test_reserve_waits_for_the_restore_it_needs() -> None:
    bucket = CostBucket()
    probe = await bucket.reserve(1)
    bucket.settle(probe, "Probe", answer(1, 1, current=0, rate=100))
    started = time.monotonic()
    await bucket.reserve(20)
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 1.0
    assert bucket.available() < 1


@pytest.mark.anyio
async def test_a_call_costing_nearly_the_whole_bucket_is_not_kept_waiting_by_answered_calls() -> None:
    """Answered calls took their points before their answers arrived; the bucket refills after that, so the
    model's bound must grow back to the bucket's size (it once stayed below it for good: a deadlock)."""
    now = [0.0]
    bucket = CostBucket(clock=lambda: now[0])
    status = {"maximumAvailable": 1000, "currentlyAvailable": 990, "restoreRate": 50}
    probe = await bucket.reserve(10)  # learns the bucket
    bucket.settle(probe, "op", {"requestedQueryCost": 10, "actualQueryCost": 10, "throttleStatus": status})
    with anyio.fail_after(1):
        first = await bucket.reserve(10)
        other = await bucket.reserve(10)  # sent before the first answer: that answer may not include it
    now[0] = 0.1
    bucket.settle(first, "op", {"requestedQueryCost": 10, "actualQueryCost": 10, "throttleStatus": status})
    now[0] = 0.2
    bucket.settle(other, "op", {"requestedQueryCost": 10, "actualQueryCost": 30})
    now[0] = 60.0  # long after: the server's bucket is full again
    assert bucket.available() == pytest.approx(1000.0)
    with anyio.fail_after(1):
        await bucket.reserve(995)
