"""The simulator on its own: authentication, the list's filters and paging, validation, URL rules, the
deterministic generator."""

from __future__ import annotations

import httpx
import pytest

from ordersyncd.testing import asgi_client
from ordersyncd_plugins.marketplace_idealo.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    OFFERS_CLIENT_ID,
    OFFERS_CLIENT_SECRET,
    SHOP_ID,
    IdealoSimulator,
    create_app,
)

pytestmark = pytest.mark.anyio
ORDERS = f"/api/v2/shops/{SHOP_ID}/orders"


async def bearer(client: httpx.AsyncClient, path: str, client_id: str, secret: str) -> dict[str, str]:
    response = await client.post(path, data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert response.status_code == 200, response.text
    body = response.json()
    assert str(body["shop_id"]) == SHOP_ID and body["token_type"] == "bearer" and body["expires_in"] == 3600
    return {"Authorization": f"Bearer {body['access_token']}"}


async def test_tokens_are_per_api_and_wrong_secrets_get_oauth_errors(sim: IdealoSimulator):
    async with asgi_client(sim) as client:
        refused = await client.post("/api/v2/oauth/token", auth=(DEFAULT_CLIENT_ID, "nope"))
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
        orders = await bearer(client, "/api/v2/oauth/token", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        offers = await bearer(
            client, "/mer/businessaccount/api/v1/oauth/token", OFFERS_CLIENT_ID, OFFERS_CLIENT_SECRET
        )
        assert (await client.get(f"{ORDERS}", headers=orders)).status_code == 200
        assert (await client.get(f"{ORDERS}", headers=offers)).status_code == 401
        assert (await client.get(f"/shop/{SHOP_ID}/offer/IDL-100", headers=offers)).status_code == 200
        assert (await client.get("/api/v2/shops/999/orders", headers=orders)).status_code == 403


async def test_list_filters_paging_and_parameter_checks(sim: IdealoSimulator):
    orders = sim.state.generate_orders(5)
    orders[0].merchant_order_number = "S1"
    sim.state.customer_revokes(orders[1].order_id)
    async with asgi_client(sim) as client:
        auth = await bearer(client, "/api/v2/oauth/token", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        page = (await client.get(ORDERS, params={"acknowledged": "false", "status": "PROCESSING",
                                                 "pageSize": "2", "pageNumber": "1"}, headers=auth)).json()  # fmt: skip
        assert (page["totalElements"], page["totalPages"]) == (3, 2)
        assert [o["idealoOrderId"] for o in page["content"]] == [orders[4].order_id]
        revoking = (await client.get(ORDERS, params={"status": "REVOKING,REVOKED"}, headers=auth)).json()
        assert [o["idealoOrderId"] for o in revoking["content"]] == [orders[1].order_id]
        for bad in ({"status": "SHIPPED"}, {"acknowledged": "maybe"}, {"from": "yesterday"}, {"size": "2"}):
            response = await client.get(ORDERS, params=bad, headers=auth)
            assert response.status_code == 400 and response.json()["fieldErrors"], bad


async def test_order_writes_are_validated(sim: IdealoSimulator):
    order = sim.state.add_order(lines=[("IDL-101", "29.99", 2)])
    path = f"{ORDERS}/{order.order_id}"
    async with asgi_client(sim) as client:
        auth = await bearer(client, "/api/v2/oauth/token", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        bad_carrier = await client.post(f"{path}/fulfillment", json={"carrier": "Pony"}, headers=auth)
        assert bad_carrier.status_code == 400 and bad_carrier.json()["fieldErrors"][0]["field"] == "carrier"
        too_many = {"sku": "IDL-101", "remainingQuantity": 2, "reason": "RETOUR"}
        assert (await client.post(f"{path}/revocations", json=too_many, headers=auth)).status_code == 400
        bad_reason = {"sku": "IDL-101", "reason": "BORED"}
        assert (await client.post(f"{path}/revocations", json=bad_reason, headers=auth)).status_code == 400
        missing = await client.get(f"{ORDERS}/NOSUCH01", headers=auth)
        assert missing.status_code == 404
        assert order.render()["lineItems"][0]["price"] == "29.99"
        assert order.render()["grossPrice"] == f"{59.98 + float(order.shipping_costs):.2f}"


async def test_offer_urls_follow_the_pws_rules(sim: IdealoSimulator):
    async with asgi_client(sim) as client:
        auth = await bearer(
            client, "/mer/businessaccount/api/v1/oauth/token", OFFERS_CLIENT_ID, OFFERS_CLIENT_SECRET
        )
        encoded_slash = await client.patch(f"/shop/{SHOP_ID}/offer/A%2FB", json={"sku": "A/B"}, headers=auth)
        assert encoded_slash.status_code == 400
        bad_value = await client.patch(
            f"/shop/{SHOP_ID}/offer/IDL-100", json={"checkoutLimitPerPeriod": -1}, headers=auth
        )
        assert bad_value.json()["fieldErrors"][0]["field"] == "checkoutLimitPerPeriod"
        unknown = await client.patch(
            f"/shop/{SHOP_ID}/offer/NOPE", json={"checkoutLimitPerPeriod": 1}, headers=auth
        )
        assert unknown.status_code == 404
        incomplete = await client.put(f"/shop/{SHOP_ID}/offer/NEW-1", json={"sku": "NEW-1"}, headers=auth)
        assert {e["field"] for e in incomplete.json()["fieldErrors"]} == {"title", "url", "price"}


def test_the_generator_is_deterministic_and_german():
    first, second = create_app(seed=11, orders=3), create_app(seed=11, orders=3)
    render = [o.render() for o in first.state.orders.values()]
    again = [o.render() for o in second.state.orders.values()]
    for payload in render + again:
        payload.pop("created"), payload.pop("updated")
    assert render == again
    for payload in render:
        assert payload["billingAddress"]["countryCode"] == "DE"
        assert len(payload["billingAddress"]["postalCode"]) == 5
        assert payload["payment"]["paymentMethod"] in {
            "IDEALO_CHECKOUT_PAYMENTS",
            "PAYPAL",
            "SOFORT",
            "CREDITCARD",
        }
        assert payload["fulfillment"]["method"] in {"POSTAL", "LETTER", "FORWARDING"}
    assert render != [o.render() for o in create_app(seed=12, orders=3).state.orders.values()]
