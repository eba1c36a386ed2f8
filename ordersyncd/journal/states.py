"""The order and shipment state machines.

::

    received ──create──▶ created ──acknowledge──▶ acknowledged ──store ships──▶ shipped ──▶ returned
        │                   │                        │    ▲                    │
        │                   │                        ▼    │                    ▼
        └───────────────────┴──────▶ needs_attention   held (codes missing)   cancelled

``needs_attention`` returns (``orders retry``) to the state the order was in when it was quarantined; a
shipment the marketplace refused quarantines an acknowledged or shipped order too.
"""

from __future__ import annotations

from enum import StrEnum

from ..errors import IllegalTransition

__all__ = ["ALLOWED_TRANSITIONS", "OrderState", "ShipmentState", "check_transition"]


class OrderState(StrEnum):
    RECEIVED = "received"
    CREATED = "created"
    ACKNOWLEDGED = "acknowledged"
    SHIPPED = "shipped"
    HELD = "held"
    NEEDS_ATTENTION = "needs_attention"
    CANCELLED = "cancelled"
    RETURNED = "returned"


class ShipmentState(StrEnum):
    PENDING = "pending"  # to be reported to the marketplace
    HELD = "held"  # a mandatory code is missing; nothing was sent
    SENT = "sent"  # reported


S = OrderState
ALLOWED_TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.RECEIVED: frozenset({S.CREATED, S.NEEDS_ATTENTION, S.CANCELLED}),
    S.CREATED: frozenset({S.ACKNOWLEDGED, S.NEEDS_ATTENTION, S.CANCELLED}),
    S.ACKNOWLEDGED: frozenset({S.SHIPPED, S.HELD, S.NEEDS_ATTENTION, S.CANCELLED}),
    S.HELD: frozenset({S.SHIPPED, S.NEEDS_ATTENTION, S.CANCELLED}),
    S.SHIPPED: frozenset({S.HELD, S.NEEDS_ATTENTION, S.RETURNED, S.CANCELLED}),
    S.NEEDS_ATTENTION: frozenset({S.RECEIVED, S.CREATED, S.ACKNOWLEDGED, S.HELD, S.SHIPPED, S.CANCELLED}),
    S.CANCELLED: frozenset(),
    S.RETURNED: frozenset(),
}


def check_transition(current: OrderState, target: OrderState) -> None:
    """Raise :class:`IllegalTransition` unless ``current → target`` is allowed."""
    if target not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransition(f"order state {current.value} cannot become {target.value}")
