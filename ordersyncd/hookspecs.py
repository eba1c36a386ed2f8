"""Hook specifications: the contract between the core and marketplace and store plugins.

Every hook may be implemented as a plain function or as ``async def``; the core awaits what it returns.
Hooks that stream (``fetch_orders``, ``find_shipments``, ``read_stock``) may instead be async generators.

A hook called for a connection reaches exactly its marketplace plugin instance and its store plugin instance, in
the order a :class:`pluggy.PluginManager` holding those two would call them (see :mod:`ordersyncd.dispatch`).
Marketplace hooks are implemented by marketplace plugins, store hooks by store plugins; the hooks marked
"both" by either. All hooks are ``firstresult``: one implementation answers.

Errors: hooks raise the classified errors of :mod:`ordersyncd.errors` (``TransientError``, ``RateLimited``,
``AuthenticationError``, ``PermanentOrderError``, ``MissingCodes``). Anything else is treated as transient.

This module is documented hook by hook in ``docs/plugins.md``; a test fails when a hook is missing there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import datetime

import pluggy

from .errors import ConfigProblem
from .model import (
    ConnectionInfo,
    MerchantAccount,
    Order,
    RawOrder,
    Shipment,
    StockItemResult,
    StockLevel,
    StoreOrderRef,
)

PROJECT = "ordersyncd"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "hookimpl", "hookspec"]

# --------------------------------------------------------------------------------------------- both kinds


@hookspec(firstresult=True)
def validate_config() -> Sequence[ConfigProblem] | Awaitable[Sequence[ConfigProblem]]:
    """Both. Check the plugin's own configuration block (already given to the constructor).

    Called once per configured block at ``ordersyncd check``, at start and on every reload, before any other
    hook. Returns the problems found (an empty list when the block is valid); ``ConfigProblem.path`` is the
    key path inside the block, e.g. ``"client_secret"``. Must not do network I/O. Raises nothing.
    """


@hookspec(firstresult=True)
def validate_connection(
    connection: ConnectionInfo,
) -> Sequence[ConfigProblem] | Awaitable[Sequence[ConfigProblem]]:
    """Both. Check a connection that uses this plugin (its ``order_types`` and ``options``).

    Called after ``validate_config`` for every connection naming the block, and only when ``validate_config``
    found no problem (so ``self.settings`` is usable). Returns problems with key paths
    relative to the connection block (``"order_types"``, ``"options.tag"``). Must not do network I/O.
    """


@hookspec(firstresult=True)
def startup() -> Awaitable[None] | None:
    """Both. Open clients and caches, and check what can only be checked online (e.g. that the configured
    merchant is one the credentials may act for). Called once per instance before the first job of a connection
    using it runs (and by ``check --online`` and the merchants command). When it raises (any
    ``PluginError``, typically ``AuthenticationError``), the connections using the instance are reported down
    and ``startup`` is tried again with backoff."""


@hookspec(firstresult=True)
def shutdown() -> Awaitable[None] | None:
    """Both. Close clients. Called at stop and when a reload replaces the instance, also for an instance whose
    ``startup`` never ran or failed (so it must cope with nothing being open). Raises nothing."""


@hookspec(firstresult=True)
def check_credentials() -> str | Awaitable[str]:
    """Both. Prove the credentials with the cheapest authenticated call (``ordersyncd check --online``).

    Returns a short description of who we are authenticated as (no secrets). Raises
    ``AuthenticationError`` when refused, ``TransientError`` when the remote cannot be reached.
    """


# --------------------------------------------------------------------------------------------- marketplace


@hookspec(firstresult=True)
def fetch_orders(
    connection: ConnectionInfo, since: datetime | None, until: datetime
) -> AsyncIterator[RawOrder] | Awaitable[Sequence[RawOrder]]:
    """Marketplace. Fetch orders that are ready to import, modified in ``(since, until]``.

    Called by the *poll orders* job. ``until`` is fixed for the run; ``since`` is the last committed
    high-water mark minus the connection's ``overlap`` (on the first run ``until`` minus ``initial_lookback``;
    the *reconcile* job passes ``until`` minus ``reconcile_window``). Plugins should still accept ``None``
    (meaning: their own initial look-back), which third-party hosts and tests may pass. The core persists each returned :class:`RawOrder` (deduplicated by ``order_id``) before
    anything else and advances the high-water mark to ``until`` only after all of them are committed.
    Marketplaces that hand out new orders only until acknowledged (idealo) may ignore the window.
    Returns the orders, or yields them page by page. Raises ``TransientError``/``RateLimited``/
    ``AuthenticationError``; the window is then fetched again next time.
    """


@hookspec(firstresult=True)
def map_order(connection: ConnectionInfo, raw: RawOrder) -> Order | Awaitable[Order]:
    """Marketplace. Turn a persisted raw order into an :class:`Order`.

    Called once per new raw order (and again on ``orders retry``). A malformed or unmappable payload raises
    ``PermanentOrderError`` (or lets pydantic's ``ValidationError`` escape); the order is quarantined with
    that reason while the others flow. Mapping is pure, so retrying cannot help: *any* exception escaping
    this hook quarantines the order (a ``KeyError`` is reported as the missing field). Must not do network
    I/O.
    """


@hookspec(firstresult=True)
def acknowledge_order(
    connection: ConnectionInfo, order: Order, store_order: StoreOrderRef
) -> Awaitable[None] | None:
    """Marketplace. Tell the marketplace the store has the order, giving the store order number.

    Called after the store order exists. Must be idempotent: acknowledging twice is harmless (the core may
    repeat it after a crash). Marketplaces without an acknowledgement simply return.
    """


@hookspec(firstresult=True)
def on_shipped(
    connection: ConnectionInfo, order: Order, shipment: Shipment, attempt: int
) -> Awaitable[None] | None:
    """Marketplace. Report a shipment (carrier, tracking and return tracking codes, lines) to the marketplace.

    Called for each new or changed shipment the store reports. When a code the marketplace requires is
    missing, raise ``MissingCodes`` *before sending anything*: the core holds the shipment, alerts people
    and calls again when the codes arrive. Must be idempotent per shipment.

    ``attempt`` is 1 when no report of this shipment was ever begun: nothing about it can have reached the
    marketplace, so the plugin may send without reading the marketplace's state first. It is higher after a
    failed or interrupted report (the core records each attempt before the call, so a crash counts) and for a
    shipment whose codes changed after a report: read the marketplace's state before sending. A call that
    raised ``MissingCodes`` does not count (it sent nothing). Implementations may leave the parameter out.
    """


@hookspec(firstresult=True)
def update_stock(
    connection: ConnectionInfo, levels: Sequence[StockLevel]
) -> Sequence[StockItemResult] | Awaitable[Sequence[StockItemResult]]:
    """Marketplace. Publish absolute stock quantities (never deltas).

    Returns one :class:`StockItemResult` per level, in order. Raises ``TransientError``/``RateLimited`` when
    the whole request failed.
    """


@hookspec(firstresult=True)
def list_merchants() -> Sequence[MerchantAccount] | Awaitable[Sequence[MerchantAccount]]:
    """Marketplace. List the merchant accounts the configured credentials may act for.

    Used by ``ordersyncd <plugin> merchants ACCOUNT`` ("Get Available Merchants"). Raises
    ``AuthenticationError`` when the credentials are refused.
    """


@hookspec(firstresult=True)
def merchant_settings(merchant: MerchantAccount) -> dict[str, object]:
    """Marketplace. The configuration keys that select ``merchant`` for this account.

    Used by ``ordersyncd <plugin> merchants ACCOUNT --select ID``: the core writes the returned keys into the
    account's block in a ``conf.d/`` drop-in (with tomli-w), never rewriting a file a person wrote. Values must
    be TOML-serializable. Example: ``{"merchant_id": "abc", "sales_channels": ["de-DE"]}``.
    """


# --------------------------------------------------------------------------------------------- store


@hookspec(firstresult=True)
def find_order(
    connection: ConnectionInfo, order: Order
) -> StoreOrderRef | Awaitable[StoreOrderRef | None] | None:
    """Store. Look up the store order stamped with this order's key; ``None`` when there is none.

    Called before ``create_order`` whenever an earlier create attempt was recorded (a crash or timeout may
    have created the order without the core learning of it). Raises ``TransientError`` when unsure.
    """


@hookspec(firstresult=True)
def create_order(connection: ConnectionInfo, order: Order) -> StoreOrderRef | Awaitable[StoreOrderRef]:
    """Store. Create the store order, stamped with the order key so ``find_order`` can find it.

    Called once the core has recorded the attempt. Honour ``order.update_store_inventory``. Raises
    ``PermanentOrderError`` for problems of this order (unknown product, rejected data), ``TransientError``
    when the outcome is unknown or the store is unavailable.
    """


@hookspec(firstresult=True)
def find_shipments(
    connection: ConnectionInfo, since: datetime | None, until: datetime
) -> AsyncIterator[Shipment] | Awaitable[Sequence[Shipment]]:
    """Store. Shipments of this connection's orders created or changed in ``(since, until]``.

    Called by the *poll shipments* job with an overlapping window (``since`` as for ``fetch_orders``;
    ``None`` should be accepted too); the core deduplicates by shipment id and codes. ``Shipment.order_id`` is the marketplace order id stamped on the store order.
    """


@hookspec(firstresult=True)
def read_stock(connection: ConnectionInfo) -> AsyncIterator[StockLevel] | Awaitable[Sequence[StockLevel]]:
    """Store. Available stock of every product with an identifier, streamed in pages."""
