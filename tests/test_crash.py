"""Proof of the exactly-once contract: SIGKILL the daemon at random moments while orders flow, restart it, and
find every marketplace order exactly once in the store, acknowledged with that store order's number."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from support import DaemonProcess, FakeBackend, wait_for, write_config

KILLS = 20
PER_KILL = 6  # new orders arrive before every restart: 120 orders in all


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    fake_backend: FakeBackend, tmp_path: Path, output_dir: Path
):
    seed = int(os.environ.get("ORDERSYNCD_CRASH_SEED", "20261123"))
    rng = random.Random(seed)
    print(f"crash test seed {seed} (set ORDERSYNCD_CRASH_SEED to replay)")
    # Latency on every remote call widens the windows between "sent" and "recorded" that the kills aim at.
    fake_backend.faults.latency = 0.1
    fake_backend.faults.response_latency = 0.1
    fake_backend.faults.error_rate = 0.05
    config = write_config(tmp_path, fake_backend.base_url)
    (output_dir / "daemon.log").unlink(missing_ok=True)
    all_ids: list[str] = []
    mid_flow_kills = 0
    kill_moments = []
    for kill in range(KILLS):
        all_ids += fake_backend.world.generate(PER_KILL, seed=seed + kill, start=len(all_ids) + 1)
        daemon = DaemonProcess(config, log_path=output_dir / "daemon.log").start()
        delay = rng.uniform(0.6, 2.5)  # the daemon needs about 0.5 s to start: some kills land in start-up
        kill_moments.append(round(delay, 2))
        time.sleep(delay)
        state = fake_backend.world.state()
        if len(state["acks"]) < len(all_ids):
            mid_flow_kills += 1
        daemon.kill()
    print(f"kill moments (s after start): {kill_moments}")
    print(f"kills while orders were still flowing: {mid_flow_kills}")
    fake_backend.faults.reset()
    daemon = DaemonProcess(config, log_path=output_dir / "daemon.log").start()
    try:
        wait_for(
            lambda: len(fake_backend.world.state()["acks"]) == len(all_ids),
            timeout=60,
            what="every order acknowledged after the last restart",
        )
    finally:
        daemon.stop()
    state = fake_backend.world.state()
    store_orders: dict[str, list[dict[str, object]]] = {}
    for order in state["store_orders"]:
        store_orders.setdefault(str(order["marketplace_order_id"]), []).append(order)
    lost = sorted(set(all_ids) - set(store_orders))
    duplicated = sorted(i for i, orders in store_orders.items() if len(orders) > 1)
    assert not lost, f"lost orders: {lost}"
    assert not duplicated, f"duplicated orders: {duplicated}"
    assert len(all_ids) >= 100
    for order_id in all_ids:
        assert state["acks"][order_id] == [store_orders[order_id][0]["number"]], order_id
    assert mid_flow_kills >= KILLS // 3, "too few kills landed while work was in progress to prove anything"
    recovered = (output_dir / "daemon.log").read_text().count('"found_existing": true')
    print(f"orders found in the store after a crash between create and record: {recovered}")
    assert recovered >= 1, "no kill landed between a store create and its record: the test proved too little"
