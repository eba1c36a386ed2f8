"""The domain model rejects malformed values with a ValidationError naming the field and the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from ordersyncd.model import (
    Address,
    DeliveryPromise,
    Money,
    Order,
    OrderLine,
    RawOrder,
    Shipment,
    ShipmentLine,
    StockLevel,
)

AWARE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NAIVE = datetime(2024, 5, 1, 12, 0)


# ---------------------------------------------------------------------------- helpers
def money(amount: str = "10.00", currency: str = "EUR") -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def address(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "first_name": "Erika",
        "last_name": "Mustermann",
        "street": "Hauptstraße",
        "house_number": "5",
        "postal_code": "10115",
        "city": "Berlin",
        "country_code": "DE",
    }
    data.update(changes)
    return data


def line(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "line_id": "L1",
        "sku": "SKU-1",
        "quantity": 2,
        "unit_price": money("19.99"),
    }
    data.update(changes)
    return data


def order(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "marketplace": "zalando",
        "order_id": "O-1",
        "number": "10001",
        "created_at": AWARE,
        "customer": {"email": "erika@example.org"},
        "billing_address": address(),
        "shipping_address": address(),
        "lines": [line()],
        "shipping_cost": money("4.95"),
        "payment": {"method": "invoice"},
    }
    data.update(changes)
    return data


def rejected(model: type[BaseModel], data: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str]]:
    """Validate ``data`` expecting failure; the (loc, msg) pairs of the errors."""
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return [(tuple(e["loc"]), e["msg"]) for e in info.value.errors()]


def assert_rejected(
    model: type[BaseModel], data: dict[str, Any], loc: tuple[int | str, ...], fragment: str
) -> None:
    errors = rejected(model, data)
    assert any(e_loc == loc and fragment in msg for e_loc, msg in errors), errors


# ---------------------------------------------------------------------------- the helpers build valid values
def test_helpers_build_valid_values() -> None:
    built = Order.model_validate(order())
    assert built.lines[0].unit_price == Money(amount=Decimal("19.99"), currency="EUR")
    assert Address.model_validate(address()).country_code == "DE"


# ---------------------------------------------------------------------------- Money
@pytest.mark.parametrize("amount", [1.5, 0.0, float("nan"), float("inf")])
def test_money_rejects_float(amount: float) -> None:
    assert_rejected(Money, money(amount), ("amount",), "not float")


@pytest.mark.parametrize("currency", ["XXX", "eur", "EURO", "", "€"])
def test_money_rejects_unknown_currency(currency: str) -> None:
    errors = rejected(Money, money(currency=currency))
    assert [loc for loc, _ in errors] == [("currency",)]
    assert "unknown currency" in errors[0][1]
    assert "ISO 4217" in errors[0][1]


@pytest.mark.parametrize(
    "amount", ["NaN", "sNaN", "Infinity", "-Infinity", "inf", Decimal("NaN"), Decimal("-Infinity")]
)
def test_money_rejects_non_finite(amount: Any) -> None:
    assert_rejected(Money, money(amount), ("amount",), "finite")


@pytest.mark.parametrize("amount", ["abc", "", "1,50"])
def test_money_rejects_non_numbers(amount: str) -> None:
    assert_rejected(Money, money(amount), ("amount",), "decimal")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("19.99", Decimal("19.99")),
        ("0.1", Decimal("0.1")),
        ("-5.00", Decimal("-5.00")),
        (Decimal("1.005"), Decimal("1.005")),
        (3, Decimal(3)),
    ],
)
def test_money_accepts_decimal_strings_and_decimals_exactly(amount: Any, expected: Decimal) -> None:
    value = Money(amount=amount, currency="EUR")
    assert isinstance(value.amount, Decimal)
    assert value.amount == expected
    assert str(value.amount) == str(expected)  # no binary rounding, scale kept


def test_money_str() -> None:
    assert str(Money(amount=Decimal("12.50"), currency="CHF")) == "12.50 CHF"


def test_money_currency_whitespace_is_stripped() -> None:
    assert Money(amount="1", currency=" EUR ").currency == "EUR"


# ---------------------------------------------------------------------------- Address
@pytest.mark.parametrize("code", ["de", "DEU", "D", "", "D1", "Deutschland"])
def test_address_rejects_bad_country_code(code: str) -> None:
    assert_rejected(Address, address(country_code=code), ("country_code",), "ISO 3166-1 alpha-2")


def test_address_accepts_alpha2_country_code() -> None:
    assert Address.model_validate(address(country_code="AT")).country_code == "AT"


@pytest.mark.parametrize("kind", ["pickup_point", "pack_station"])
def test_address_pickup_point_needs_id(kind: str) -> None:
    assert_rejected(Address, address(kind=kind), (), f"a {kind} address needs pickup_point_id")
    accepted = Address.model_validate(address(kind=kind, pickup_point_id="PP-123"))
    assert accepted.pickup_point_id == "PP-123"


def test_address_street_kind_needs_no_pickup_id() -> None:
    assert Address.model_validate(address()).kind == "street"


def test_address_rejects_unknown_kind() -> None:
    assert_rejected(Address, address(kind="mailbox"), ("kind",), "'street', 'pickup_point' or 'pack_station'")


@pytest.mark.parametrize("field", ["last_name", "street", "postal_code", "city"])
def test_address_required_text_must_not_be_blank(field: str) -> None:
    assert_rejected(Address, address(**{field: "   "}), (field,), "at least 1 character")


# ---------------------------------------------------------------------------- OrderLine
def test_order_line_needs_an_identifier() -> None:
    assert_rejected(OrderLine, line(sku=""), (), "needs a sku, ean or marketplace_article_id")


@pytest.mark.parametrize("identifier", ["sku", "ean", "marketplace_article_id"])
def test_order_line_any_identifier_is_enough(identifier: str) -> None:
    data = line(sku="")
    data[identifier] = "X-1"
    assert getattr(OrderLine.model_validate(data), identifier) == "X-1"


@pytest.mark.parametrize("quantity", [0, -1])
def test_order_line_quantity_must_be_positive(quantity: int) -> None:
    assert_rejected(OrderLine, line(quantity=quantity), ("quantity",), "greater than 0")


@pytest.mark.parametrize("ids", [("a",), ("a", "b", "c")])
def test_order_line_marketplace_line_ids_one_per_unit(ids: tuple[str, ...]) -> None:
    assert_rejected(OrderLine, line(quantity=2, marketplace_line_ids=ids), (), "one id per unit")


def test_order_line_marketplace_line_ids_matching_quantity_or_absent() -> None:
    assert OrderLine.model_validate(
        line(quantity=2, marketplace_line_ids=("a", "b"))
    ).marketplace_line_ids == (
        "a",
        "b",
    )
    assert OrderLine.model_validate(line(quantity=2)).marketplace_line_ids == ()


@pytest.mark.parametrize("rate", ["-1", "100.01"])
def test_order_line_tax_rate_range(rate: str) -> None:
    fragment = "greater than or equal to 0" if rate.startswith("-") else "less than or equal to 100"
    assert_rejected(OrderLine, line(tax_rate=rate), ("tax_rate",), fragment)


def test_order_line_total() -> None:
    total = OrderLine.model_validate(line(quantity=3, unit_price=money("19.99"))).total
    assert total == Money(amount=Decimal("59.97"), currency="EUR")


# ---------------------------------------------------------------------------- Order
def test_order_needs_at_least_one_line() -> None:
    assert_rejected(Order, order(lines=[]), ("lines",), "at least 1 item")


def test_order_error_in_a_line_names_the_line() -> None:
    data = order(lines=[line(), line(line_id="L2", quantity=0)])
    assert_rejected(Order, data, ("lines", 1, "quantity"), "greater than 0")


def test_order_lines_must_share_the_currency() -> None:
    data = order(lines=[line(), line(line_id="L2", unit_price=money("5", "CHF"))])
    assert_rejected(Order, data, (), "must share one currency, got ['CHF', 'EUR']")


def test_order_shipping_cost_must_share_the_currency() -> None:
    assert_rejected(Order, order(shipping_cost=money("4.95", "GBP")), (), "must share one currency")


def test_order_discount_must_share_the_currency() -> None:
    assert_rejected(
        Order, order(discount=money("1.00", "USD")), (), "must share one currency, got ['EUR', 'USD']"
    )


def test_order_created_at_must_be_aware() -> None:
    assert_rejected(Order, order(created_at=NAIVE), ("created_at",), "must carry a timezone")
    assert_rejected(Order, order(created_at="2024-05-01T12:00:00"), ("created_at",), "must carry a timezone")


def test_order_updated_at_must_be_aware() -> None:
    assert_rejected(Order, order(updated_at=NAIVE), ("updated_at",), "must carry a timezone")


def test_order_delivery_window_must_be_aware() -> None:
    data = order(delivery={"earliest": AWARE, "latest": NAIVE})
    assert_rejected(Order, data, ("delivery", "latest"), "must carry a timezone")


def test_order_accepts_any_fixed_offset() -> None:
    cest = timezone(timedelta(hours=2))
    built = Order.model_validate(order(created_at="2024-05-01T14:00:00+02:00"))
    assert built.created_at == datetime(2024, 5, 1, 14, 0, tzinfo=cest)
    assert built.created_at.utcoffset() == timedelta(hours=2)


def test_order_total_without_discount() -> None:
    data = order(
        lines=[
            line(quantity=2, unit_price=money("19.99")),
            line(line_id="L2", quantity=1, unit_price=money("5.01")),
        ],
        shipping_cost=money("4.95"),
    )
    built = Order.model_validate(data)
    assert built.currency == "EUR"
    assert built.total == Money(amount=Decimal("49.94"), currency="EUR")


def test_order_total_with_discount() -> None:
    built = Order.model_validate(order(discount=money("10.00")))
    # 2 x 19.99 + 4.95 - 10.00
    assert built.total == Money(amount=Decimal("34.93"), currency="EUR")


def test_order_in_another_currency() -> None:
    data = order(lines=[line(unit_price=money("1000", "JPY"))], shipping_cost=money("0", "JPY"))
    built = Order.model_validate(data)
    assert built.currency == "JPY"
    assert built.total == Money(amount=Decimal("2000"), currency="JPY")


def test_order_survives_a_json_round_trip() -> None:
    built = Order.model_validate(order(discount=money("1.00")))
    again = Order.model_validate_json(built.model_dump_json())
    assert again == built
    assert isinstance(again.lines[0].unit_price.amount, Decimal)


# ---------------------------------------------------------------------------- StockLevel
def test_stock_level_needs_sku_or_ean() -> None:
    assert_rejected(StockLevel, {"quantity": 1}, (), "needs a sku or ean")
    assert_rejected(StockLevel, {"sku": "  ", "quantity": 1}, (), "needs a sku or ean")


def test_stock_level_quantity_not_negative() -> None:
    assert_rejected(StockLevel, {"sku": "S", "quantity": -1}, ("quantity",), "greater than or equal to 0")


@pytest.mark.parametrize("data", [{"sku": "S", "quantity": 0}, {"ean": "4006381333931", "quantity": 7}])
def test_stock_level_valid(data: dict[str, Any]) -> None:
    assert StockLevel.model_validate(data).quantity == data["quantity"]


# ---------------------------------------------------------------------------- other value objects
def test_raw_order_modified_at_must_be_aware() -> None:
    assert_rejected(
        RawOrder, {"order_id": "O", "modified_at": NAIVE, "payload": {}}, ("modified_at",), "timezone"
    )


def test_shipment_line_quantity_positive() -> None:
    data = {"shipment_id": "S", "order_id": "O", "lines": [{"line_id": "L1", "quantity": 0}]}
    assert_rejected(Shipment, data, ("lines", 0, "quantity"), "greater than 0")


def test_shipment_shipped_at_must_be_aware() -> None:
    assert_rejected(
        Shipment, {"shipment_id": "S", "order_id": "O", "shipped_at": NAIVE}, ("shipped_at",), "timezone"
    )


# ---------------------------------------------------------------------------- frozen, extra="forbid"
FROZEN_CASES = [
    (Money(amount=Decimal(1), currency="EUR"), "amount", Decimal(2)),
    (Address.model_validate(address()), "city", "Hamburg"),
    (OrderLine.model_validate(line()), "quantity", 5),
    (Order.model_validate(order()), "number", "99"),
    (StockLevel(sku="S", quantity=1), "quantity", 2),
    (ShipmentLine(line_id="L1", quantity=1), "quantity", 2),
    (DeliveryPromise(), "method", "express"),
]


@pytest.mark.parametrize(("value", "field", "new"), FROZEN_CASES, ids=lambda v: type(v).__name__)
def test_values_are_frozen(value: BaseModel, field: str, new: Any) -> None:
    before = getattr(value, field)
    with pytest.raises(ValidationError) as info:
        setattr(value, field, new)
    assert [(tuple(e["loc"]), e["type"]) for e in info.value.errors()] == [((field,), "frozen_instance")]
    assert "Instance is frozen" in str(info.value)
    assert getattr(value, field) == before


def test_order_lines_are_an_immutable_tuple() -> None:
    built = Order.model_validate(order())
    assert isinstance(built.lines, tuple)


EXTRA_CASES = [
    (Money, money()),
    (Address, address()),
    (OrderLine, line()),
    (Order, order()),
    (StockLevel, {"sku": "S", "quantity": 1}),
    (RawOrder, {"order_id": "O", "payload": {}}),
    (Shipment, {"shipment_id": "S", "order_id": "O"}),
]


@pytest.mark.parametrize(("model", "data"), EXTRA_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_unknown_fields_are_rejected(model: type[BaseModel], data: dict[str, Any]) -> None:
    model.model_validate(data)  # valid as given
    assert_rejected(model, {**data, "colour": "red"}, ("colour",), "Extra inputs are not permitted")


def test_unknown_field_in_a_nested_value_is_rejected() -> None:
    data = order(shipping_address=address(floor="3"))
    assert_rejected(Order, data, ("shipping_address", "floor"), "Extra inputs are not permitted")
