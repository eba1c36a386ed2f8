"""`make demo`: the whole product working on one machine, on the bundled simulators.

Starts, all on 127.0.0.1: the Zalando, Shopify, idealo and WooCommerce simulators, a local SMTP server that
writes every message into demo-state/mail, and the real daemon (a subprocess) with etc/ordersyncd.demo.toml.
Then a scripted scenario plays the world: marketplace orders arrive over time (Zalando FBR and FBZ, one with an
unknown SKU, idealo orders), the simulated merchant fulfils orders in the stores (one with both tracking numbers,
one with only the shipping number), stock changes in the store. A live view shows each connection's progress;
the scenario checks its own outcome, prints a summary and exits 0 when everything is as it should be.

    make demo                   # the scenario, then exit
    make demo DEMO_FOREVER=1    # keep everything running afterwards; Ctrl-C stops it all
    python demo/demo.py --short --free-ports   # what the test suite runs
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ordersyncd.testing import serve_asgi
from ordersyncd.testing.asgi import free_port
from ordersyncd_plugins.marketplace_idealo.simulator import DEFAULT_CLIENT_SECRET as IDEALO_SECRET
from ordersyncd_plugins.marketplace_idealo.simulator import OFFERS_CLIENT_SECRET as IDEALO_OFFERS_SECRET
from ordersyncd_plugins.marketplace_idealo.simulator import create_app as idealo_app
from ordersyncd_plugins.marketplace_zalando.simulator import DEFAULT_CLIENT_SECRET as ZALANDO_SECRET
from ordersyncd_plugins.marketplace_zalando.simulator import create_app as zalando_app
from ordersyncd_plugins.store_shopify.simulator import create_app as shopify_app
from ordersyncd_plugins.store_woocommerce.simulator import DEFAULT_CONSUMER_SECRET as WOO_SECRET
from ordersyncd_plugins.store_woocommerce.simulator import create_app as woo_app

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "etc" / "ordersyncd.demo.toml"
DEMO = ROOT / "demo-state"
MAIL = DEMO / "mail"
SHOPIFY_TOKEN = "shpat_demo_token_1234567890"  # noqa: S105 - the simulator's token, not a real secret
WEB_LOGIN = "demo-login-token"
DEFAULT_PORTS = {
    "zalando": 18401,
    "shopify": 18402,
    "idealo": 18403,
    "woocommerce": 18404,
    "smtp": 18425,
    "daemon": 18450,
}
STATES = ("received", "created", "acknowledged", "shipped", "held", "needs_attention")

# Products: (SKU, EAN, initial store quantity)
SHOP_PRODUCTS = [
    ("ZS-SNEAKER-42", "4006381333931", 20),
    ("ZS-JACKET-M", "4006381333948", 12),
    ("ZS-CAP", "4006381333955", 30),
]
WOO_PRODUCTS = [("IDL-101", "4250000000101", 15), ("IDL-102", "4250000000102", 8)]


class Mailbox:
    """aiosmtpd handler: every message becomes a file demo-state/mail/NNN.eml."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        number = len(list(self.folder.glob("*.eml"))) + 1
        (self.folder / f"{number:03d}.eml").write_bytes(envelope.content)
        return "250 Message accepted for delivery"


def messages() -> list[Message]:
    return [message_from_bytes(p.read_bytes()) for p in sorted(MAIL.glob("*.eml"))]


@dataclass
class World:
    """The simulators and what the scenario did, for the checks at the end."""

    zalando: Any
    shopify: Any
    idealo: Any
    woo: Any
    ports: dict[str, int]
    zalando_orders: dict[str, Any] = field(default_factory=dict)  # label -> SimOrder
    idealo_orders: dict[str, Any] = field(default_factory=dict)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_ports(free: bool) -> dict[str, int]:
    if free:
        return {name: free_port() for name in DEFAULT_PORTS}
    busy = [f"{name} ({port})" for name, port in DEFAULT_PORTS.items() if not port_is_free(port)]
    if busy:
        raise SystemExit(
            f"demo: ports in use on 127.0.0.1: {', '.join(busy)} (is another demo running? "
            "or run `python demo/demo.py --free-ports`)"
        )
    return dict(DEFAULT_PORTS)


def write_config(ports: dict[str, int]) -> Path:
    """The demo configuration with the chosen ports (a copy in demo-state/; the template stays as it is)."""
    text = TEMPLATE.read_text()
    for name, default in DEFAULT_PORTS.items():
        text = re.sub(rf"\b{default}\b", str(ports[name]), text)
    text = text.replace("../demo-state/", "")
    secrets = DEMO / "secrets"
    secrets.mkdir(mode=0o700)
    for name, value in (
        ("shopify-token", SHOPIFY_TOKEN),
        ("woocommerce-secret", WOO_SECRET),
        ("zalando-secret", ZALANDO_SECRET),
        ("idealo-secret", IDEALO_SECRET),
        ("idealo-offers-secret", IDEALO_OFFERS_SECRET),
        ("web-token", WEB_LOGIN),
    ):
        (secrets / name).write_text(value + "\n")
    path = DEMO / "ordersyncd.toml"
    path.write_text(text)
    return path


def journal_counts() -> dict[str, dict[str, int]]:
    """Orders per connection and state, read from the journal (WAL: readers never block the daemon)."""
    path = DEMO / "state" / "journal.sqlite3"
    if not path.exists():
        return {}
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)) as db:
            rows = db.execute(
                "SELECT connection, state, COUNT(*) FROM orders GROUP BY connection, state"
            ).fetchall()
    except sqlite3.Error:
        return {}
    counts: dict[str, dict[str, int]] = {}
    for connection, state, count in rows:
        counts.setdefault(connection, {})[state] = count
    return counts


def orders_json(config: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ordersyncd.cli",
            "--config",
            str(config),
            "orders",
            "list",
            "--limit",
            "1000",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    orders: list[dict[str, Any]] = json.loads(out.stdout)["orders"]
    return orders


def view(world: World, stage: str) -> Table:
    counts = journal_counts()
    table = Table(title=f"ordersyncd demo — {stage}", title_justify="left")
    table.add_column("connection")
    for state in STATES:
        table.add_column(state.replace("_", " "), justify="right")
    table.add_column("stock pushes", justify="right")
    for connection in ("zalando-shop", "idealo-woo"):
        row = counts.get(connection, {})
        pushes = (
            len(world.zalando.state.stock_requests)
            if connection == "zalando-shop"
            else sum(
                1 for e in world.idealo.recorder.exchanges if e.method == "PATCH" and "/offer/" in e.path
            )
        )
        table.add_row(connection, *[str(row.get(s, 0)) for s in STATES], str(pushes))
    base = f"http://127.0.0.1:{world.ports['daemon']}"
    table.caption = (  # the pages need the login token printed at the end
        f"e-mails sent: {len(list(MAIL.glob('*.eml')))}   metrics: {base}/metrics   "
        f"orders: {base}/orders   shipments: {base}/shipments"
    )
    return table


def wait(what: str, condition: Callable[[], Any], world: World, live: Live, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        live.update(view(world, what))
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for: {what}")
        time.sleep(0.25)


@contextlib.contextmanager
def services(ports: dict[str, int]) -> Iterator[World]:
    zalando = zalando_app(rate_limits="off", seed=7)
    shopify = shopify_app(access_tokens=(SHOPIFY_TOKEN,))
    idealo = idealo_app(seed=7)
    woo = woo_app()
    for sku, ean, quantity in SHOP_PRODUCTS:
        shopify.shop.add_variant(sku, ean, title=sku.title(), price="59.95", inventory=quantity)
    for sku, ean, quantity in WOO_PRODUCTS:
        woo.state.add_product(sku, ean=ean, stock=quantity, price="29.99")
        idealo.state.add_offer(sku)
    smtp = Controller(Mailbox(MAIL), hostname="127.0.0.1", port=ports["smtp"])
    smtp.start()
    try:
        with (
            serve_asgi(zalando, port=ports["zalando"]),
            serve_asgi(shopify, port=ports["shopify"]),
            serve_asgi(idealo, port=ports["idealo"]),
            serve_asgi(woo, port=ports["woocommerce"]),
        ):
            yield World(zalando, shopify, idealo, woo, ports)
    finally:
        smtp.stop()


def start_daemon(config: Path) -> subprocess.Popen[bytes]:
    with (DEMO / "daemon.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "ordersyncd.cli", "--config", str(config), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def scenario(
    world: World, config: Path, live: Live, short: bool, daemon: subprocess.Popen[bytes]
) -> list[str]:
    """Play the world; return the problems found (empty when the outcome is right)."""
    z, shop, idealo, woo = world.zalando.state, world.shopify, world.idealo.state, world.woo.state
    base = f"http://127.0.0.1:{world.ports['daemon']}"

    def started() -> bool:
        if daemon.poll() is not None:
            raise RuntimeError(
                f"the daemon exited with {daemon.returncode}:\n{(DEMO / 'daemon.log').read_text()}"
            )
        return _ready(base)

    wait("daemon starting", started, world, live, 30)
    by_id = world.zalando_orders
    # Wave 1: Zalando FBR orders and an idealo order.
    by_id["complete"] = z.add_order(articles=[("ZS-SNEAKER-42", "AR-SNK", Decimal("59.95"), 2)])
    by_id["partial"] = z.add_order(articles=[("ZS-JACKET-M", "AR-JKT", Decimal("129.00"), 1)])
    world.idealo_orders["first"] = idealo.add_order(lines=[("IDL-101", "29.99", 1)])
    if not short:
        time.sleep(2)
        by_id["more"] = z.add_order(articles=[("ZS-CAP", "AR-CAP", Decimal("19.95"), 3)])
        world.idealo_orders["second"] = idealo.add_order(lines=[("IDL-102", "89.95", 2)])
    # Wave 2: an FBZ order (the store's inventory is left alone) and one with an SKU the store does not know.
    by_id["fbz"] = z.add_order(
        order_type="ZalandoFulfilled", status="approved", articles=[("ZS-CAP", "AR-CAP", Decimal("19.95"), 1)]
    )
    by_id["unknown"] = z.add_order(articles=[("ZS-DOES-NOT-EXIST", "AR-XXX", Decimal("9.95"), 1)])
    expected_acked = [o.order_id for k, o in by_id.items() if k != "unknown"]
    wait(
        "orders flowing into the stores",
        lambda: (
            _states(config, expected_acked, {"acknowledged"})
            and _states(config, [o.order_id for o in world.idealo_orders.values()], {"acknowledged"})
        ),
        world,
        live,
        90,
    )
    # The merchant ships: both tracking numbers for one order, only the shipping number for another.
    shop.fulfill(
        f"zalando-shop:{by_id['complete'].order_id}", tracking_numbers=["00340434161234567890", "RET-1001"]
    )
    shop.fulfill(f"zalando-shop:{by_id['partial'].order_id}", tracking_numbers=["00340434169999999999"])
    first_woo = woo.order_by_key(f"idealo-woo:{world.idealo_orders['first'].order_id}")
    woo.ship(first_woo["id"], [("dhl", "00340434160000000001")])
    # Stock changes in the store: a sale in the shop's own checkout.
    variant = shop.shop.variant_by(sku="ZS-JACKET-M")
    _set_inventory(shop, variant, 4)
    wait(
        "shipments reported, missing code held",
        lambda: (
            _states(config, [by_id["complete"].order_id], {"shipped"})
            and _states(config, [by_id["partial"].order_id], {"held"})
            and _states(config, [world.idealo_orders["first"].order_id], {"shipped"})
        ),
        world,
        live,
        60,
    )
    wait("missing-code e-mail delivered", lambda: messages(), world, live, 60)
    wait(
        "stock pushed to Zalando",
        lambda: any(ean == "4006381333948" and qty == 4 for (_, ean), qty in z.stock_levels.items()),
        world,
        live,
        60,
    )
    return check(world, config)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _states(config: Path, ids: list[str], wanted: set[str]) -> bool:
    states = {o["order_id"]: o["state"] for o in orders_json(config)}
    return all(
        states.get(i) in wanted or (wanted == {"acknowledged"} and states.get(i) in {"shipped", "held"})
        for i in ids
    )


def _set_inventory(shop: Any, variant: Any, quantity: int) -> None:
    """A sale in the shop's own checkout: the variant's available quantity at its first location changes."""
    with shop.shop.lock:
        location = next(iter(variant.available))
        variant.available[location] = quantity
        variant.updated_at = shop.shop.now()


def check(world: World, config: Path) -> list[str]:
    problems: list[str] = []
    z = world.zalando.state
    orders = {o["order_id"]: o for o in orders_json(config)}
    shop_orders = [o.source_identifier for o in world.shopify.orders()]
    for label, order in world.zalando_orders.items():
        key = f"zalando-shop:{order.order_id}"
        count = shop_orders.count(key)
        if label == "unknown":
            if count or orders[order.order_id]["state"] != "needs_attention":
                problems.append("the unknown-SKU order was not quarantined")
        elif count != 1:
            problems.append(f"Zalando order {label} is {count} times in the store (expected exactly once)")
    complete = z.orders[world.zalando_orders["complete"].order_id]
    if (complete.tracking_number, complete.return_tracking_number) != ("00340434161234567890", "RET-1001"):
        problems.append("both codes of the complete shipment did not reach Zalando")
    if {line.status for line in complete.lines()} != {"shipped"}:
        problems.append("the complete shipment's lines are not shipped at Zalando")
    partial = z.orders[world.zalando_orders["partial"].order_id]
    if partial.tracking_number or partial.return_tracking_number:
        problems.append("a partial shipment was sent to Zalando")
    mails = messages()
    partial_id = world.zalando_orders["partial"].order_id
    if len(mails) != 1:
        problems.append(f"expected exactly one missing-code e-mail, found {len(mails)}")
    else:
        body = _text_of(mails[0])
        link = (
            f"http://127.0.0.1:{world.ports['daemon']}/shipments?connection=zalando-shop&order={partial_id}"
        )
        if "return tracking code" not in body.lower() or link not in body:
            problems.append("the e-mail does not name the missing return code or lacks the link to the order")
    fbz = world.shopify.shop.orders_with_source(f"zalando-shop:{world.zalando_orders['fbz'].order_id}")
    if not fbz or fbz[0].inventory_behaviour != "BYPASS":
        problems.append("the FBZ order touched the store's inventory")
    for label, order in world.idealo_orders.items():
        woo_orders = [
            o
            for o in world.woo.state.list_orders({})
            if any(m.get("value") == f"idealo-woo:{order.order_id}" for m in o.get("meta_data", []))
        ]
        if len(woo_orders) != 1:
            problems.append(f"idealo order {label} is {len(woo_orders)} times in WooCommerce")
    return problems


def _text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8")
    return ""


def summary(world: World, config: Path, console: Console) -> None:
    table = Table(title="summary", title_justify="left")
    for column in ("connection", "order", "number", "state", "store order", "note"):
        table.add_column(column)
    for order in sorted(orders_json(config), key=lambda o: (o["connection"], o["received_at"])):
        table.add_row(
            order["connection"],
            order["order_id"][:13],
            order["number"],
            order["state"],
            order["store_order_number"],
            (order["reason"] or order["last_error"])[:60],
        )
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the shortened scenario the tests run")
    parser.add_argument("--free-ports", action="store_true", help="use free ports instead of the fixed ones")
    args = parser.parse_args()
    forever = os.environ.get("DEMO_FOREVER") == "1"
    console = Console()
    if DEMO.exists():
        shutil.rmtree(DEMO)
    DEMO.mkdir()
    ports = choose_ports(args.free_ports)
    config = write_config(ports)
    daemon: subprocess.Popen[bytes] | None = None
    interrupted = False

    def on_sigterm(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        with services(ports) as world:
            daemon = start_daemon(config)
            with Live(
                view(world, "starting"), console=console, refresh_per_second=4, transient=False
            ) as live:
                problems = scenario(world, config, live, args.short, daemon)
                live.update(view(world, "scenario done"))
            summary(world, config, console)
            base = f"http://127.0.0.1:{ports['daemon']}"
            if problems:
                for problem in problems:
                    console.print(f"[red]FAILED[/red] {problem}")
                return 1
            console.print(
                "[green]outcome checked:[/green] every order exactly once in its store, both codes "
                "delivered for the complete shipment, the incomplete one held with its alert e-mail (and link) "
                "on disk, the unknown-SKU order quarantined, the FBZ order left the inventory alone, stock pushed."
            )
            partial = world.zalando_orders["partial"].order_id
            console.print(
                f"pages: {base}/shipments (login token: {WEB_LOGIN}) · order details: "
                f"{base}/orders/zalando-shop/{partial} · metrics: {base}/metrics"
            )
            console.print(f"daemon log {DEMO / 'daemon.log'} · e-mails {MAIL}")
            if forever:
                console.print(
                    "DEMO_FOREVER=1: everything keeps running. "
                    f"Try: .venv/bin/ordersyncd --config {config} orders list — Ctrl-C stops it all."
                )
                with Live(view(world, "running"), console=console, refresh_per_second=2) as live:
                    while daemon.poll() is None:
                        live.update(view(world, "running (Ctrl-C stops)"))
                        time.sleep(0.5)
            return 0
    except KeyboardInterrupt:
        interrupted = True
        return 130
    except (TimeoutError, RuntimeError) as error:
        console.print(f"[red]FAILED[/red] {error} (see {DEMO / 'daemon.log'})")
        return 1
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(20)
            except subprocess.TimeoutExpired:
                daemon.kill()
        console.print(
            "stopped" + (" (interrupted)" if interrupted else "") + ": daemon, simulators and mail server"
        )


if __name__ == "__main__":
    sys.exit(main())
