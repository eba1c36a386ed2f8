"""The fake marketplace and fake store servers (one ASGI app, two prefixes) with a control API.

Run: ``python -m ordersyncd_fakes.server --port 8123 [--orders 120 --seed 7 --bad 3]``.
"""

from __future__ import annotations

import argparse
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from ordersyncd.testing import FaultInjector, Faults

SKUS = [f"SKU-{i:03d}" for i in range(1, 21)]


def make_order(
    index: int, rng: random.Random, modified_at: datetime, sku: str | None = None
) -> dict[str, Any]:
    """A well-formed marketplace order payload."""
    lines = []
    for n in range(rng.randint(1, 3)):
        lines.append(
            {
                "line_id": f"L{index}-{n}",
                "sku": sku or rng.choice(SKUS),
                "quantity": rng.randint(1, 3),
                "unit_price": f"{rng.randint(5, 120)}.{rng.randint(0, 99):02d}",
            }
        )
    return {
        "id": f"MO-{index:05d}",
        "number": f"{10000 + index}",
        "created_at": modified_at.isoformat(),
        "modified_at": modified_at.isoformat(),
        "currency": "EUR",
        "type": "standard",
        "customer": {
            "email": f"buyer{index}@example.org",
            "first_name": "Erika",
            "last_name": f"Muster{index}",
        },
        "address": {
            "last_name": f"Muster{index}",
            "first_name": "Erika",
            "street": "Hauptstr. 1",
            "postal_code": "10115",
            "city": "Berlin",
            "country_code": "DE",
        },
        "lines": lines,
        "shipping": "4.90",
        "payment": {"method": "paypal", "transaction_id": f"TX{index}"},
    }


def malformed_orders(start: int, modified_at: datetime) -> list[dict[str, Any]]:
    """Orders whose data a real marketplace might send broken: each breaks one rule."""
    rng = random.Random(start)
    base = [make_order(start + i, rng, modified_at) for i in range(4)]
    del base[0]["address"]  # missing field
    base[1]["lines"][0]["quantity"] = "many"  # wrong type
    base[2]["lines"][0]["quantity"] = -2  # negative quantity
    base[3]["currency"] = "XXY"  # unknown currency
    return base


class FakeWorld:
    """In-memory state of the fake marketplace and store. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.market_orders: dict[str, dict[str, Any]] = {}
        self.acks: dict[
            str, list[str]
        ] = {}  # marketplace order id -> store order numbers acknowledged (in order)
        self.shipments: dict[str, list[dict[str, Any]]] = {}  # marketplace order id -> shipments reported
        self.stock_received: dict[str, int] = {}
        #: Every stock push as it arrived: a list of (sku, quantity) per request.
        self.stock_calls: list[list[tuple[str, int]]] = []
        #: Forced answers per SKU: "rejected", "failed" or "pending" (default: accepted; UNKNOWN* rejected).
        self.stock_outcomes: dict[str, str] = {}
        self.store_orders: dict[str, dict[str, Any]] = {}  # store id -> order
        self.store_shipments: dict[str, dict[str, Any]] = {}
        self.products: dict[str, int] = dict.fromkeys(SKUS, 100)
        self.next_store_id = 1000

    def add_orders(self, orders: list[dict[str, Any]]) -> None:
        with self.lock:
            for order in orders:
                self.market_orders[order["id"]] = order

    def generate(self, count: int, seed: int, bad: int = 0, start: int = 1) -> list[str]:
        rng = random.Random(seed)
        now = datetime.now(UTC) - timedelta(minutes=1)
        orders = [make_order(start + i, rng, now + timedelta(milliseconds=i)) for i in range(count)]
        if bad:
            orders += malformed_orders(start + count, now)[:bad]
        self.add_orders(orders)
        return [o["id"] for o in orders]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "market_orders": sorted(self.market_orders),
                "acks": self.acks,
                "shipments": self.shipments,
                "stock_received": self.stock_received,
                "stock_calls": self.stock_calls,
                "store_orders": list(self.store_orders.values()),
                "store_shipments": list(self.store_shipments.values()),
            }


def _window(request: Request) -> tuple[datetime | None, datetime | None]:
    since, until = request.query_params.get("since"), request.query_params.get("until")
    return (
        datetime.fromisoformat(since) if since else None,
        datetime.fromisoformat(until) if until else None,
    )


def _in_window(moment: str, since: datetime | None, until: datetime | None) -> bool:
    at = datetime.fromisoformat(moment)
    return (since is None or at > since) and (until is None or at <= until)


def create_app(world: FakeWorld | None = None, faults: Faults | None = None) -> Any:
    world = world or FakeWorld()

    # ------------------------------------------------------------ marketplace
    async def m_orders(request: Request) -> Response:
        since, until = _window(request)
        page = int(request.query_params.get("page", "0"))
        per_page = int(request.query_params.get("per_page", "50"))
        with world.lock:
            matching = sorted(
                (o for o in world.market_orders.values() if _in_window(o["modified_at"], since, until)),
                key=lambda o: (o["modified_at"], o["id"]),
            )
        chunk = matching[page * per_page : (page + 1) * per_page]
        return JSONResponse({"orders": chunk, "has_more": (page + 1) * per_page < len(matching)})

    async def m_ack(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        body = await request.json()
        with world.lock:
            if order_id not in world.market_orders:
                return JSONResponse({"error": "no such order"}, status_code=404)
            numbers = world.acks.setdefault(order_id, [])
            if body["store_order_number"] not in numbers:
                numbers.append(body["store_order_number"])
        return JSONResponse({"ok": True})

    async def m_ship(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        body = await request.json()
        with world.lock:
            sent = world.shipments.setdefault(order_id, [])
            if not any(s["shipment_id"] == body["shipment_id"] for s in sent):
                sent.append(body)
        return JSONResponse({"ok": True})

    async def m_stock(request: Request) -> Response:
        items = await request.json()
        results = []
        with world.lock:
            world.stock_calls.append([(item["sku"], item["quantity"]) for item in items])
            for item in items:
                forced = world.stock_outcomes.get(item["sku"])
                if item["sku"].startswith("UNKNOWN"):
                    results.append({"sku": item["sku"], "status": "rejected", "reason": "unknown product"})
                elif forced:
                    results.append({"sku": item["sku"], "status": forced, "reason": f"{forced} by the fake"})
                else:
                    world.stock_received[item["sku"]] = item["quantity"]
                    results.append({"sku": item["sku"], "status": "accepted"})
        return JSONResponse(results)

    # ------------------------------------------------------------ store
    async def s_find(request: Request) -> Response:
        key = request.query_params["key"]
        with world.lock:
            found = [o for o in world.store_orders.values() if o["key"] == key]
        return JSONResponse(found)

    async def s_create(request: Request) -> Response:
        body = await request.json()
        with world.lock:
            unknown = [line["sku"] for line in body["lines"] if line["sku"] not in world.products]
            if unknown:
                return JSONResponse({"error": f"unknown product {unknown[0]}"}, status_code=422)
            world.next_store_id += 1
            store_id = str(world.next_store_id)
            order = {"id": store_id, "number": f"S{store_id}", **body}
            world.store_orders[store_id] = order
            if body.get("update_inventory", True):
                for line in body["lines"]:
                    world.products[line["sku"]] -= line["quantity"]
        return JSONResponse(order, status_code=201)

    async def s_shipments(request: Request) -> Response:
        since, until = _window(request)
        with world.lock:
            found = [s for s in world.store_shipments.values() if _in_window(s["updated_at"], since, until)]
        return JSONResponse(found)

    async def s_stock(request: Request) -> Response:
        with world.lock:
            return JSONResponse(
                [{"sku": sku, "quantity": max(0, qty)} for sku, qty in sorted(world.products.items())]
            )

    # ------------------------------------------------------------ control
    async def c_generate(request: Request) -> Response:
        body = await request.json()
        ids = world.generate(
            body.get("count", 10), body.get("seed", 0), body.get("bad", 0), body.get("start", 1)
        )
        return JSONResponse({"ids": ids})

    async def c_state(request: Request) -> Response:
        return JSONResponse(world.state())

    async def c_ship(request: Request) -> Response:
        body = await request.json()
        with world.lock:
            order = next(
                o for o in world.store_orders.values() if o["marketplace_order_id"] == body["order_id"]
            )
            shipment_id = body.get("shipment_id", f"F{order['id']}")
            world.store_shipments[shipment_id] = {
                "shipment_id": shipment_id,
                "order_id": body["order_id"],
                "store_order_id": order["id"],
                "carrier": body.get("carrier", "DHL"),
                "tracking_numbers": body.get("tracking_numbers", []),
                "lines": [
                    {"line_id": line["line_id"], "quantity": line["quantity"]} for line in order["lines"]
                ],
                "updated_at": datetime.now(UTC).isoformat(),
            }
        return JSONResponse({"shipment_id": shipment_id})

    async def c_faults(request: Request) -> Response:
        body = await request.json()
        for key, value in body.items():
            setattr(injector.faults, key, tuple(value) if key == "only_paths" else value)
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Mount(
                "/marketplace",
                routes=[
                    Route("/orders", m_orders),
                    Route("/orders/{order_id}/ack", m_ack, methods=["POST"]),
                    Route("/orders/{order_id}/shipments", m_ship, methods=["POST"]),
                    Route("/stock", m_stock, methods=["POST"]),
                ],
            ),
            Mount(
                "/store",
                routes=[
                    Route("/orders", s_find, methods=["GET"]),
                    Route("/orders", s_create, methods=["POST"]),
                    Route("/shipments", s_shipments),
                    Route("/stock", s_stock),
                ],
            ),
        ]
    )
    injector = FaultInjector(app, faults or Faults())
    control = Starlette(
        routes=[
            Route("/_control/generate", c_generate, methods=["POST"]),
            Route("/_control/state", c_state),
            Route("/_control/ship", c_ship, methods=["POST"]),
            Route("/_control/faults", c_faults, methods=["POST"]),
            Mount("/", app=injector),
        ]
    )
    control.state.world = world
    control.state.faults = injector.faults
    return control


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="fake marketplace + store for ordersyncd tests")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--orders", type=int, default=0)
    parser.add_argument("--bad", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    world = FakeWorld()
    if args.orders:
        world.generate(args.orders, args.seed, args.bad)
    uvicorn.run(create_app(world), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
