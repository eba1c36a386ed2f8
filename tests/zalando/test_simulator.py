"""The simulator on its own: filters, JSON:API and problem+json errors, transition rules, and the contract
checker itself (it must reject what the spec does not know)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from ordersyncd.testing import RecordedExchange
from ordersyncd_plugins.marketplace_zalando.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    MERCHANT_A,
    MERCHANT_B,
    SALES_CHANNELS,
    ZalandoSimulator,
)

from .contract import ContractError, Contracts

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
JSONAPI = {"Accept": "application/vnd.api+json"}
ORDERS = f"/merchants/{MERCHANT_A}/orders"


@pytest.fixture
async def api(sim: ZalandoSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim), base_url="http://127.0.0.1"
    ) as client:
        token = (
            await client.post(
                "/auth/token",
                data={"grant_type": "client_credentials"},
                auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
            )
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def _patch(kind: str, rid: str, attributes: dict[str, object]) -> dict[str, object]:
    return {
        "content": json.dumps({"data": {"type": kind, "id": rid, "attributes": attributes}}),
        "headers": {"Content-Type": "application/vnd.api+json", **JSONAPI},
    }


async def test_filters_sort_and_include(api: httpx.AsyncClient, sim) -> None:
    a = sim.state.add_order(modified_at=T0, order_number="111", country="de")
    b = sim.state.add_order(modified_at=T0 + timedelta(seconds=1), order_number="222", country="fr")
    c = sim.state.add_order(
        modified_at=T0 + timedelta(seconds=2), order_type="ZalandoFulfilled", order_number="333"
    )
    c.exported = True
    sim.state.add_order(merchant_id=MERCHANT_B, modified_at=T0, country="nl")

    async def ids(**params: str) -> list[str]:
        response = await api.get(ORDERS, params=params, headers=JSONAPI)
        assert response.status_code == 200
        return [o["id"] for o in response.json()["data"]]

    assert await ids() == [c.order_id, b.order_id, a.order_id]  # default sort -modified_at
    assert await ids(sort="modified_at") == [a.order_id, b.order_id, c.order_id]
    assert await ids(order_number="222") == [b.order_id]
    assert await ids(locale="fr-FR") == [b.order_id]
    assert await ids(sales_channel_id=SALES_CHANNELS["de"], sort="order_number") == [a.order_id, c.order_id]
    assert await ids(order_type="ZalandoFulfilled") == [c.order_id]
    assert await ids(exported="false", sort="modified_at") == [a.order_id, b.order_id]
    assert await ids(created_after="2026-03-02T08:55:00.000Z", sort="modified_at") == [b.order_id, c.order_id]
    assert await ids(created_before="2026-03-02T08:55:00.000Z") == []
    assert await ids(
        last_updated_after="2026-03-02T09:00:00.000Z", last_updated_before="2026-03-02T09:00:02.000Z"
    ) == [b.order_id]
    plain = (await api.get(ORDERS, headers=JSONAPI)).json()
    assert "included" not in plain
    items_only = (await api.get(ORDERS, params={"include": "order_items"}, headers=JSONAPI)).json()
    assert {r["type"] for r in items_only["included"]} == {"OrderItem"}
    single = (
        await api.get(
            f"{ORDERS}/{a.order_id}", params={"include": "order_items,order_lines"}, headers=JSONAPI
        )
    ).json()
    assert {r["type"] for r in single["included"]} == {"OrderItem", "OrderLine"}


async def test_pagination_links(api: httpx.AsyncClient, sim) -> None:
    sim.state.generate_orders(5, start=T0)
    first = (await api.get(ORDERS, params={"page[size]": "2"}, headers=JSONAPI)).json()
    assert first["meta"]["number_of_results"] == 5
    assert "prev" not in first["links"]
    assert "page%5Bnumber%5D=1" in first["links"]["next"]
    last = (await api.get(ORDERS, params={"page[size]": "2", "page[number]": "2"}, headers=JSONAPI)).json()
    assert len(last["data"]) == 1
    assert "next" not in last["links"]


@pytest.mark.invalid_requests
async def test_bad_requests_get_jsonapi_errors(api: httpx.AsyncClient) -> None:
    bad = await api.get(ORDERS, params={"modified_after": "2026-01-01T00:00:00Z"}, headers=JSONAPI)
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/vnd.api+json")
    assert bad.json()["errors"][0]["source"] == {"parameter": "modified_after"}
    assert (await api.get(ORDERS, params={"include": "customers"}, headers=JSONAPI)).status_code == 400
    assert (await api.get(ORDERS, params={"page[size]": "5000"}, headers=JSONAPI)).status_code == 400
    assert (
        await api.get(ORDERS, params={"last_updated_after": "yesterday"}, headers=JSONAPI)
    ).status_code == 400
    foreign = await api.get("/merchants/11111111-2222-4333-8444-555555555555/orders", headers=JSONAPI)
    assert foreign.status_code == 403
    missing = await api.get(f"{ORDERS}/11111111-2222-4333-8444-555555555555", headers=JSONAPI)
    assert missing.status_code == 404
    unauthorized = await api.get(ORDERS, headers={**JSONAPI, "Authorization": "Bearer nope"})
    assert unauthorized.status_code == 401


@pytest.mark.invalid_requests
async def test_token_endpoint_refuses_bad_credentials(api: httpx.AsyncClient) -> None:
    refused = await api.post(
        "/auth/token", data={"grant_type": "client_credentials"}, auth=(DEFAULT_CLIENT_ID, "x")
    )
    assert refused.status_code == 401
    wrong_grant = await api.post(
        "/auth/token", data={"grant_type": "password"}, auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    )
    assert wrong_grant.status_code == 400


@pytest.mark.invalid_requests
async def test_order_and_line_transition_rules(api: httpx.AsyncClient, sim) -> None:
    order = sim.state.add_order(modified_at=T0, articles=[("4063614512884", "A", Decimal("5.00"), 2)])
    fbz = sim.state.add_order(modified_at=T0, order_type="ZalandoFulfilled")
    line, other = order.items[0].lines
    line_path = f"{ORDERS}/{order.order_id}/items/{line.item_id}/lines/{line.line_id}"
    other_path = f"{ORDERS}/{order.order_id}/items/{other.item_id}/lines/{other.line_id}"

    async def patch(path: str, kind: str, rid: str, attributes: dict[str, object]) -> int:
        return (await api.patch(path, **_patch(kind, rid, attributes))).status_code

    assert await patch(line_path, "OrderLine", line.line_id, {"status": "shipped"}) == 403  # not exported
    assert await patch(f"{ORDERS}/{order.order_id}", "Order", order.order_id, {"tracking_number": "T"}) == 403
    assert (
        await patch(f"{ORDERS}/{order.order_id}", "Order", order.order_id, {"merchant_order_id": "A-1"})
        == 400
    )
    assert await patch(f"{ORDERS}/{order.order_id}", "Order", "other-id", {"merchant_order_id": "A1"}) == 400
    assert (
        await patch(f"{ORDERS}/{order.order_id}", "Order", order.order_id, {"merchant_order_id": "A1"}) == 204
    )
    assert await patch(f"{ORDERS}/{fbz.order_id}", "Order", fbz.order_id, {"merchant_order_id": "A1"}) == 403
    assert await patch(line_path, "OrderLine", line.line_id, {"status": "reserved"}) == 409
    assert await patch(line_path, "OrderLine", line.line_id, {"status": "shipped"}) == 204
    assert await patch(line_path, "OrderLine", line.line_id, {"status": "shipped"}) == 409
    assert await patch(line_path, "OrderLine", line.line_id, {"status": "canceled"}) == 403
    assert await patch(line_path, "OrderLine", line.line_id, {"status": "returned", "reason": "2"}) == 400
    assert await patch(line_path, "OrderLine", line.line_id, {"status": "returned", "reason": 2}) == 204
    assert line.reason == 2
    read = (await api.get(other_path, headers=JSONAPI)).json()
    assert read["meta"]["possible_status_transitions"] == ["canceled", "shipped"]
    assert order.status == "approved"
    assert await patch(other_path, "OrderLine", other.line_id, {"status": "canceled"}) == 204
    assert order.status == "fulfilled"


async def test_tracking_first_value_wins(api: httpx.AsyncClient, sim) -> None:
    order = sim.state.add_order(modified_at=T0)
    path = f"{ORDERS}/{order.order_id}"
    await api.patch(path, **_patch("Order", order.order_id, {"merchant_order_id": "A1"}))
    first = {"tracking_number": "T1", "return_tracking_number": "R1"}
    assert (await api.patch(path, **_patch("Order", order.order_id, first))).status_code == 204
    second = {"tracking_number": "T2", "return_tracking_number": "R2"}
    assert (await api.patch(path, **_patch("Order", order.order_id, second))).status_code == 204
    attributes = (await api.get(path, headers=JSONAPI)).json()["data"]["attributes"]
    assert (attributes["tracking_number"], attributes["return_tracking_number"]) == ("T1", "R1")


async def test_lines_shipped_are_recorded_with_the_time_since_both_tracking_numbers(
    api: httpx.AsyncClient, sim, clock
) -> None:
    order = sim.state.add_order(modified_at=T0, articles=[("4063614512884", "A", Decimal("5.00"), 2)])
    path = f"{ORDERS}/{order.order_id}"
    first, second = order.items[0].lines

    async def ship(line) -> int:
        line_path = f"{path}/items/{line.item_id}/lines/{line.line_id}"
        return (
            await api.patch(line_path, **_patch("OrderLine", line.line_id, {"status": "shipped"}))
        ).status_code

    await api.patch(path, **_patch("Order", order.order_id, {"merchant_order_id": "A1"}))
    await api.patch(path, **_patch("Order", order.order_id, {"tracking_number": "T1"}))
    assert await ship(first) == 204  # not refused: zDirect documents the order of calls, not a refusal
    await api.patch(path, **_patch("Order", order.order_id, {"return_tracking_number": "R1"}))
    clock.now += 7
    assert await ship(second) == 204
    assert sim.state.line_shipments == [
        (order.order_id, first.line_id, None),
        (order.order_id, second.line_id, 7.0),
    ]


@pytest.mark.invalid_requests
async def test_stock_errors_are_problem_json(api: httpx.AsyncClient) -> None:
    path = f"/merchants/{MERCHANT_A}/stocks"
    item = {"sales_channel_id": SALES_CHANNELS["de"], "ean": "4063614512884", "quantity": 1}
    duplicate = await api.post(path, json={"items": [item, item]})
    assert duplicate.status_code == 400
    assert duplicate.headers["content-type"].startswith("application/problem+json")
    assert duplicate.json()["status"] == 400
    too_many = await api.post(
        path, json={"items": [{**item, "ean": f"{4000000000000 + n}"} for n in range(1001)]}
    )
    assert too_many.status_code == 400
    mixed = await api.post(
        path,
        json={
            "items": [
                item,
                {**item, "sales_channel_id": SALES_CHANNELS["nl"]},  # not merchant A's channel
                {**item, "ean": "ABC"},
            ]
        },
    )
    assert mixed.status_code == 207
    assert [r["result"]["status"] for r in mixed.json()["results"]] == ["ACCEPTED", "REJECTED", "REJECTED"]


async def test_stock_item_rate_limit_answers_429_with_retry_after(api: httpx.AsyncClient, sim) -> None:
    path = f"/merchants/{MERCHANT_A}/stocks"
    for start in (0, 1000):
        batch = [
            {"sales_channel_id": SALES_CHANNELS["de"], "ean": f"{4000000000000 + n}", "quantity": 1}
            for n in range(start, start + 1000)
        ]
        assert (await api.post(path, json={"items": batch})).status_code == 207
    third = await api.post(path, json={"items": batch[:1]})
    assert third.status_code == 429
    assert int(third.headers["Retry-After"]) > 0
    assert third.headers["content-type"].startswith("application/problem+json")


# ---------------------------------------------------------------------------------------------- contract checker


def _exchange(**kwargs: object) -> RecordedExchange:
    base: dict[str, object] = {
        "method": "GET",
        "path": ORDERS,
        "query": [],
        "headers": {"authorization": "Bearer x"},
        "body": b"",
        "status": 200,
        "response_body": json.dumps({"data": [], "links": {}, "meta": {"copyright": "c"}}).encode(),
        "response_headers": {"content-type": "application/vnd.api+json"},
    }
    base.update(kwargs)
    return RecordedExchange(**base)  # type: ignore[arg-type]


def test_contract_checker_accepts_a_valid_exchange(contracts: Contracts) -> None:
    assert contracts.check_request(_exchange(query=[("page[size]", "10"), ("exported", "false")]))
    assert contracts.check_response(_exchange())


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"query": [("modified_after", "2026-01-01T00:00:00Z")]}, "not in the contract"),
        ({"query": [("page[size]", "ten")]}, "not an integer"),
        ({"query": [("last_updated_after", "2026-01-01 10:00")]}, "date-time"),
        ({"headers": {}}, "Authorization"),
        ({"method": "DELETE"}, "no such operation"),
        ({"path": "/merchants/x/invoices"}, "no such operation"),
    ],
)
def test_contract_checker_rejects_requests(
    contracts: Contracts, change: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ContractError, match=fragment):
        contracts.check_request(_exchange(**change))


def test_contract_checker_rejects_unknown_fields_and_bodies(contracts: Contracts) -> None:
    extra = {"data": [], "links": {}, "meta": {"copyright": "c"}, "surprise": 1}
    with pytest.raises(ContractError, match="surprise"):
        contracts.check_response(_exchange(response_body=json.dumps(extra).encode()))
    patch = _exchange(
        method="PATCH",
        path=f"{ORDERS}/{MERCHANT_B}",
        headers={"authorization": "Bearer x", "content-type": "application/vnd.api+json"},
        body=json.dumps(
            {"data": {"type": "Order", "id": "1", "attributes": {"merchant_order_number": "1"}}}
        ).encode(),
    )
    with pytest.raises(ContractError, match="merchant_order_number"):
        contracts.check_request(patch)
    stock = _exchange(
        method="POST",
        path=f"/merchants/{MERCHANT_A}/stocks",
        headers={"authorization": "Bearer x", "content-type": "application/json"},
        body=json.dumps(
            {"items": [{"sales_channel_id": SALES_CHANNELS["de"], "ean": "1", "quantity": -1}]}
        ).encode(),
    )
    with pytest.raises(ContractError, match="minimum"):
        contracts.check_request(stock)
    with pytest.raises(ContractError, match="content type"):
        contracts.check_response(_exchange(response_headers={"content-type": "text/html"}))
