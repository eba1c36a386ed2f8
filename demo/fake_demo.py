"""`make demo` (interim): the real daemon, the real pipeline, against the fake marketplace and fake store that the
test suite uses. Everything runs on 127.0.0.1; state lives in ./demo-state, never in the system.

What it shows: orders arrive over time (one of them malformed), the daemon creates each exactly once in the store
and acknowledges it, the merchant ships some orders (one without its return tracking code, which is held), stock is
pushed, and /metrics tells the story. The scenario checks its own outcome and exits 0 when all is as it should be.

The full demo on the Zalando and Shopify simulators, with e-mail alerts and the pages, replaces this with its issue.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ordersyncd.testing import serve_asgi
from ordersyncd_fakes.server import FakeWorld, create_app

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / "demo-state"
FOREVER = os.environ.get("DEMO_FOREVER") == "1"


def say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def cli(config: Path, *args: str) -> dict | list:
    out = subprocess.run(
        [sys.executable, "-m", "ordersyncd.cli", "--config", str(config), *args, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"[demo] FAILED: timed out waiting for {what}")
        time.sleep(0.2)


def main() -> int:
    if STATE.exists():
        shutil.rmtree(STATE)
    STATE.mkdir()
    world = FakeWorld()
    with serve_asgi(create_app(world)) as backend:
        say(f"fake marketplace + store serving on {backend.base_url}")
        config = STATE / "ordersyncd.toml"
        config.write_text(f"""
[daemon]
state_dir = "{STATE / "state"}"
[log]
format = "json"
[http]
listen = "127.0.0.1"
port = 0
[marketplaces.demo-market]
plugin = "fake-marketplace"
base_url = "{backend.base_url}"
[stores.demo-store]
plugin = "fake-store"
base_url = "{backend.base_url}"
[connections.demo]
marketplace = "demo-market"
store = "demo-store"
backoff_initial = "1s"
[connections.demo.intervals]
poll_orders = "2s"
advance_orders = "1s"
poll_shipments = "2s"
sync_stock = "5s"
""")
        log_path = STATE / "daemon.log"
        with log_path.open("w") as log:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "ordersyncd.cli", "--config", str(config), "run"],
                stdout=log,
                stderr=log,
            )
        try:
            port_file = STATE / "state" / "http-port"
            wait(port_file.exists, 20, "the daemon to start")
            base = f"http://127.0.0.1:{port_file.read_text().strip()}"
            wait(lambda: httpx.get(f"{base}/readyz").status_code == 200, 20, "the daemon to be ready")
            say(f"daemon ready: metrics {base}/metrics, health {base}/healthz (log: {log_path})")

            ids: list[str] = []
            for wave in range(3):
                new = world.generate(5, seed=wave, bad=1 if wave == 1 else 0, start=len(ids) + 1)
                ids += new
                say(
                    f"wave {wave + 1}: {len(new)} marketplace orders arrive"
                    + (" (one malformed)" if wave == 1 else "")
                )
                time.sleep(2)
            valid = [i for i in ids if "address" in world.market_orders[i]]  # the malformed one has none
            wait(lambda: all(world.acks.get(i) for i in valid), 60, "every valid order acknowledged")
            say(f"{len(valid)} orders created in the store and acknowledged")
            httpx.post(
                f"{backend.base_url}/_control/ship",
                json={"order_id": valid[0], "tracking_numbers": ["DHL-0001", "RET-0001"]},
            )
            httpx.post(
                f"{backend.base_url}/_control/ship",
                json={"order_id": valid[1], "tracking_numbers": ["DHL-0002"]},
            )
            say(f"merchant ships {valid[0]} with both codes and {valid[1]} with only the shipping code")
            wait(lambda: world.shipments.get(valid[0]), 30, "the complete shipment reported")
            wait(
                lambda: any(o["state"] == "held" for o in cli(config, "orders", "list")["orders"]),
                30,
                "the held shipment",
            )
            say(f"{valid[1]} is held: its return tracking code is missing, nothing partial was sent")

            listing = cli(config, "orders", "list", "--limit", "100")["orders"]
            states: dict[str, int] = {}
            for order in listing:
                states[order["state"]] = states.get(order["state"], 0) + 1
            print()
            print(f"{'state':<18}orders")
            for state, count in sorted(states.items()):
                print(f"{state:<18}{count}")
            print()
            quarantined = [o for o in listing if o["state"] == "needs_attention"]
            for order in quarantined:
                say(f"needs attention: {order['order_id']}: {order['reason']}")

            problems = []
            created = [o["marketplace_order_id"] for o in world.store_orders.values()]
            if sorted(created) != sorted(valid):
                problems.append("store orders do not match the valid marketplace orders exactly once")
            if len(quarantined) != 1:
                problems.append(f"expected one quarantined order, found {len(quarantined)}")
            if valid[1] in world.shipments:
                problems.append("a shipment without its return code was sent")
            if not world.stock_received:
                problems.append("no stock was pushed")
            metrics = httpx.get(f"{base}/metrics").text
            if 'ordersyncd_orders_imported_total{connection="demo"}' not in metrics:
                problems.append("metrics missing")
            if problems:
                for problem in problems:
                    say(f"FAILED: {problem}")
                return 1
            say(
                "outcome checked: every order exactly once, the malformed one quarantined, the incomplete shipment held"
            )
            if FOREVER:
                say(
                    f"DEMO_FOREVER=1: everything keeps running; try `.venv/bin/ordersyncd --config {config} orders list`. Ctrl-C stops."
                )
                try:
                    while daemon.poll() is None:
                        time.sleep(1)
                except KeyboardInterrupt:
                    pass
            return 0
        finally:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(30)
            say("daemon stopped")


if __name__ == "__main__":
    sys.exit(main())
