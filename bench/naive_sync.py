"""What a user would write instead of ordersyncd: a sequential Zalando → Shopify import script.

Poll every approved, not yet exported Zalando order (all pages), then for each order, one at a time: resolve its
variants by SKU (remembered in a dict), create it in Shopify with ``orderCreate``, export it at Zalando with the
Shopify order number. Same HTTP client library as the daemon (httpx), same endpoints, same order stamp
(``sourceIdentifier = CONNECTION:ORDER_ID``), so the end state can be compared with the daemon's.
It has none of the daemon's guarantees (no journal: a crash between create and export duplicates an order).

``python bench/naive_sync.py --zalando URL --shopify URL --token T [--connection NAME]`` prints one JSON line:
``{"orders": N, "seconds": S, "orders_per_second": R, "calls": C}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal
from typing import Any

import httpx

__all__ = ["NaiveSync", "main"]

ORDER_CREATE = """
mutation OrderCreate($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order { id name sourceIdentifier }
    userErrors { field message code }
  }
}
"""
VARIANTS = """
query VariantsByIdentifier($query: String!) {
  productVariants(first: 5, query: $query) { nodes { id sku barcode } }
}
"""


def _address(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "firstName": raw.get("first_name", ""),
        "lastName": raw.get("last_name", ""),
        "address1": raw.get("address_line_1", ""),
        "zip": raw.get("zip_code", ""),
        "city": raw.get("city", ""),
        "countryCode": raw.get("country_code", "DE"),
    }


class NaiveSync:
    """One sequential pass: poll, then create and export order after order."""

    def __init__(
        self,
        zalando: str,
        shopify: str,
        token: str,
        *,
        client_id: str = "sim-client",
        client_secret: str = "sim-secret",  # noqa: S107 - the simulator's credential
        merchant_id: str = "6f1c6a2e-2f7a-4c52-9d0e-1b1a2c3d4e5f",
        connection: str = "zalando-shop",
    ) -> None:
        self.http = httpx.Client(timeout=30)
        self.zalando = zalando.rstrip("/")
        self.graphql = f"{shopify.rstrip('/')}/admin/api/2026-10/graphql.json"
        self.shopify_headers = {"X-Shopify-Access-Token": token}
        self.credentials = (client_id, client_secret)
        self.merchant = merchant_id
        self.connection = connection
        self.variants: dict[str, str] = {}
        self.calls = 0
        self.zalando_headers: dict[str, str] = {}

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self.calls += 1
        response = self.http.request(method, url, **kwargs)
        response.raise_for_status()
        return response

    def _gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = {"query": query, "variables": variables}
        answer: dict[str, Any] = self._request(
            "POST", self.graphql, json=body, headers=self.shopify_headers
        ).json()
        if answer.get("errors"):
            raise RuntimeError(f"Shopify: {answer['errors']}")
        data: dict[str, Any] = answer["data"]
        return data

    def login(self) -> None:
        token = self._request(
            "POST",
            f"{self.zalando}/auth/token",
            data={"grant_type": "client_credentials"},
            auth=self.credentials,
        ).json()["access_token"]
        self.zalando_headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/vnd.api+json",
        }

    def poll(self) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """Every approved, unexported order and the included items and lines by id."""
        orders: list[dict[str, Any]] = []
        included: dict[str, dict[str, Any]] = {}
        url: str | None = f"{self.zalando}/merchants/{self.merchant}/orders"
        params: dict[str, Any] | None = {
            "order_status": "approved",
            "exported": "false",
            "include": "order_items,order_lines",
            "sort": "modified_at",
            "page[size]": 1000,
        }
        while url:
            page = self._request("GET", url, params=params, headers=self.zalando_headers).json()
            orders += page["data"]
            included.update({f"{x['type']}:{x['id']}": x for x in page.get("included", [])})
            url, params = page["links"].get("next"), None
        return orders, included

    def variant(self, sku: str) -> str:
        if sku not in self.variants:
            nodes = self._gql(VARIANTS, {"query": f'sku:"{sku}"'})["productVariants"]["nodes"]
            self.variants[sku] = next(n["id"] for n in nodes if n["sku"] == sku)
        return self.variants[sku]

    def create(self, order: dict[str, Any], included: dict[str, dict[str, Any]]) -> str:
        attributes = order["attributes"]
        currency = attributes["order_lines_price_currency"]
        items = []
        for ref in order["relationships"]["order_items"]["data"]:
            item = included[f"OrderItem:{ref['id']}"]
            lines = [included[f"OrderLine:{x['id']}"] for x in item["relationships"]["order_lines"]["data"]]
            price = Decimal(str(lines[0]["attributes"]["price"]["amount"]))
            sku = item["attributes"]["external_id"]
            items.append(
                {
                    "variantId": self.variant(sku),
                    "sku": sku,
                    "quantity": len(lines),
                    "priceSet": {"shopMoney": {"amount": str(price), "currencyCode": currency}},
                    "requiresShipping": True,
                }
            )
        shipping = Decimal(str(attributes["shipping_costs"]["amount"]))
        variables = {
            "order": {
                "sourceIdentifier": f"{self.connection}:{order['id']}",
                "currency": currency,
                "processedAt": attributes["order_date"],
                "tags": ["zalando", f"ordersyncd:{self.connection}"],
                "note": f"zalando order {attributes['order_number']}",
                "lineItems": items,
                "shippingLines": [
                    {
                        "title": "Shipping",
                        "priceSet": {"shopMoney": {"amount": str(shipping), "currencyCode": currency}},
                    }
                ],
                "taxesIncluded": True,
                "financialStatus": "PAID",
                "email": attributes["customer_email"],
                "shippingAddress": _address(attributes["shipping_address"]),
                "billingAddress": _address(attributes["billing_address"]),
            },
            "options": {
                "inventoryBehaviour": "DECREMENT_IGNORING_POLICY",
                "sendReceipt": False,
                "sendFulfillmentReceipt": False,
            },
        }
        result = self._gql(ORDER_CREATE, variables)["orderCreate"]
        if result["userErrors"]:
            raise RuntimeError(f"orderCreate: {result['userErrors']}")
        name: str = result["order"]["name"]
        return name

    def export(self, order_id: str, number: str) -> None:
        body = {
            "data": {
                "type": "Order",
                "id": order_id,
                "attributes": {"merchant_order_id": "".join(c for c in number if c.isalnum())},
            }
        }
        self._request(
            "PATCH",
            f"{self.zalando}/merchants/{self.merchant}/orders/{order_id}",
            content=json.dumps(body),
            headers=self.zalando_headers,
        )

    def run(self) -> int:
        """Import and export every waiting order; returns how many."""
        self.login()
        orders, included = self.poll()
        for order in orders:
            self.export(order["id"], self.create(order, included))
        return len(orders)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run one pass, print the JSON summary."""
    parser = argparse.ArgumentParser(description="naive sequential Zalando → Shopify import")
    parser.add_argument("--zalando", required=True)
    parser.add_argument("--shopify", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--connection", default="zalando-shop")
    args = parser.parse_args(argv)
    sync = NaiveSync(args.zalando, args.shopify, args.token, connection=args.connection)
    start = time.monotonic()
    count = sync.run()
    seconds = time.monotonic() - start
    summary = {
        "orders": count,
        "seconds": seconds,
        "orders_per_second": count / seconds if seconds else 0.0,
        "calls": sync.calls,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
