"""Connection hook calls planned from one pluggy manager per pair of plugin classes answer as pluggy does."""

from __future__ import annotations

import itertools
from typing import Any

import pluggy
import pytest

from ordersyncd import plugin_host
from ordersyncd.dispatch import plan_hooks
from ordersyncd.model import ConnectionInfo
from ordersyncd.plugin import MarketplacePlugin, PluginContext, StorePlugin, hookimpl

OPTIONS: list[dict[str, bool]] = [{}, {"tryfirst": True}, {"trylast": True}]
INFO = ConnectionInfo(name="c", account="m", store="s")


def _classes(
    market_opts: dict[str, bool], market_result: Any, store_opts: dict[str, bool], store_result: Any
):
    calls: list[str] = []

    class Market(MarketplacePlugin[Any]):
        @hookimpl(**market_opts)
        def validate_connection(self, connection: ConnectionInfo) -> Any:
            calls.append(f"market:{connection.name}")
            return market_result

        @hookimpl
        def map_order(self, raw: Any) -> Any:  # leaves out ``connection``: pluggy passes only named arguments
            calls.append("map")
            return ("mapped", raw)

    class Store(StorePlugin[Any]):
        @hookimpl(**store_opts)
        def validate_connection(self) -> Any:
            calls.append("store")
            return store_result

    return Market, Store, calls


def _instance(cls: type, name: str) -> Any:
    return cls(
        name=name,
        config={},
        context=PluginContext(name=name, kind=cls.kind, state_dir=None, http_client_factory=None),
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("market_opts", "store_opts"),
    list(itertools.product(OPTIONS, OPTIONS)),
    ids=lambda o: ",".join(o) or "plain",
)
def test_plan_calls_in_pluggys_order_and_returns_what_pluggy_returns(
    market_opts: dict[str, bool], store_opts: dict[str, bool]
) -> None:
    for market_result, store_result in itertools.product((None, ["m"]), (None, ["s"])):
        market_cls, store_cls, calls = _classes(market_opts, market_result, store_opts, store_result)
        market, store = _instance(market_cls, "m"), _instance(store_cls, "s")
        pm = plugin_host._manager(("marketplace:m", market), ("store:s", store))
        plan = plan_hooks(pm, (market, store))
        assert plan is not None

        expected = pm.hook.validate_connection(connection=INFO)
        pluggy_calls = list(calls)
        calls.clear()
        got = plan.call("validate_connection", (market, store), {"connection": INFO})
        assert (got, calls) == (expected, pluggy_calls)
        assert pluggy_calls, "at least one implementation ran"

        calls.clear()
        assert plan.call("map_order", (market, store), {"connection": INFO, "raw": 7}) == ("mapped", 7)
        assert calls == ["map"]
        assert plan.implements("map_order") and not plan.implements("create_order")
        with pytest.raises(pluggy.HookCallError):
            plan.call("map_order", (market, store), {"connection": INFO})


def test_a_plan_serves_other_instances_of_the_same_classes() -> None:
    market_cls, store_cls, calls = _classes({}, None, {"tryfirst": True}, ["s"])
    first = _instance(market_cls, "m1"), _instance(store_cls, "s1")
    second = _instance(market_cls, "m2"), _instance(store_cls, "s2")
    plan = plan_hooks(plugin_host._manager(("marketplace:m1", first[0]), ("store:s1", first[1])), first)
    assert plan is not None
    seen: list[object] = []
    second[1].validate_connection = lambda: seen.append(second[1]) or ["from second"]  # type: ignore[method-assign]
    assert plan.call("validate_connection", second, {"connection": INFO}) == ["from second"]
    assert seen == [second[1]] and calls == []


def test_plugins_with_a_hook_wrapper_keep_a_pluggy_manager() -> None:
    class Wrapping(StorePlugin[Any]):
        @hookimpl(wrapper=True)
        def validate_connection(self) -> Any:
            result = yield
            return [*result, "wrapped"]

    market_cls, _, _ = _classes({}, ["m"], {}, None)
    market, store = _instance(market_cls, "m"), _instance(Wrapping, "s")
    assert (
        plan_hooks(plugin_host._manager(("marketplace:m", market), ("store:s", store)), (market, store))
        is None
    )
    plan, pm = plugin_host._connection_hooks(market, store, ("marketplace:m", "store:s"))
    assert plan is None and pm is not None
    connection = plugin_host.ConnectionPlugins(
        info=INFO,
        settings=None,
        marketplace=market,
        store=store,
        plan=plan,
        pm=pm,  # type: ignore[arg-type]
    )
    assert connection.call("validate_connection") == ["m", "wrapped"]
