"""The plugin's documentation covers every setting; the simulator's HTTP control API and error shapes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ordersyncd_plugins.store_woocommerce import WooCommerceSettings
from ordersyncd_plugins.store_woocommerce.simulator import WooCommerceSimulator

from .conftest import KEY, SECRET

pytestmark = pytest.mark.anyio

DOC = Path(__file__).parents[2] / "docs" / "plugins" / "woocommerce.md"


def test_every_setting_is_in_the_documentation_table():
    text = DOC.read_text()
    missing = [name for name in WooCommerceSettings.model_fields if f"| `{name}` |" not in text]
    assert missing == []


async def test_control_api_and_wordpress_error_shapes(sim: WooCommerceSimulator):
    transport = httpx.ASGITransport(app=sim)
    tls = httpx.BasicAuth(KEY, SECRET)
    async with httpx.AsyncClient(transport=transport, base_url="https://shop.example", auth=tls) as http:
        added = await http.post("/_simulator/products", json={"sku": "CTL-1", "stock": 3})
        assert added.status_code == 201
        body = {"status": "processing", "line_items": [{"sku": "CTL-1", "quantity": 2}]}
        created = (await http.post("/wp-json/wc/v3/orders", json=body)).json()
        assert sim.state.product_by_sku("CTL-1").stock_quantity == 1
        shipped = await http.post(
            f"/_simulator/orders/{created['id']}/ship",
            json={"tracking": [{"provider": "DHL", "number": "T1"}]},
        )
        assert shipped.json()["status"] == "completed"
        trackings = await http.get(
            f"/wp-json/wc-shipment-tracking/v3/orders/{created['id']}/shipment-trackings"
        )
        assert [t["tracking_number"] for t in trackings.json()] == ["T1"]
        listed = (await http.get("/_simulator/orders")).json()
        assert [o["id"] for o in listed] == [created["id"]]

        no_route = await http.get("/wp-json/wc/v3/nothing-here")
        assert no_route.status_code == 404 and no_route.json()["code"] == "rest_no_route"
        too_big = await http.get("/wp-json/wc/v3/products", params={"per_page": 101})
        assert too_big.status_code == 400 and too_big.json()["code"] == "rest_invalid_param"
        bad_item = await http.post("/wp-json/wc/v3/orders", json={"line_items": [{"quantity": 1}]})
        assert bad_item.json() == {
            "code": "woocommerce_rest_required_product_reference",
            "message": "Product ID or SKU is required.",
            "data": {"status": 400},
        }
        unknown = await http.post("/wp-json/wc/v3/orders", json={"line_items": [{"product_id": 999999}]})
        assert unknown.json()["code"] == "woocommerce_rest_invalid_product_id"
