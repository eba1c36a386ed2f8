"""The plugin host: discovers plugins through one entry-point group, builds one instance per configured block,
and lets each connection call hooks on exactly its marketplace and store instances, in the order a
:class:`pluggy.PluginManager` holding those two would (see :mod:`ordersyncd.dispatch`).

The core never imports a plugin module by name: built-in plugins are found exactly like third-party ones.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pluggy
import structlog

from . import hookspecs
from .config import BlockConfig, Config, ConnectionConfig
from .dispatch import HookPlan, plan_hooks
from .errors import ConfigProblem, PluginError
from .model import ConnectionInfo, SyncLevel
from .plugin import PluginBase, PluginContext

__all__ = [
    "ENTRY_POINT_GROUP",
    "ConnectionPlugins",
    "InstalledPlugin",
    "PluginSet",
    "await_maybe",
    "build_plugins",
    "discover_plugins",
    "iterate",
]

ENTRY_POINT_GROUP = "ordersyncd.plugins"
log = structlog.get_logger("ordersyncd.plugins")

MARKETPLACE_HOOKS = frozenset(
    {
        "fetch_orders",
        "map_order",
        "acknowledge_order",
        "on_shipped",
        "update_stock",
        "list_merchants",
        "merchant_settings",
    }
)
STORE_HOOKS = frozenset({"find_order", "create_order", "find_shipments", "read_stock"})
#: Hooks a connection needs, by synchronization level.
REQUIRED_HOOKS: dict[SyncLevel, dict[str, frozenset[str]]] = {
    SyncLevel.ORDERS_AND_STOCK: {
        "marketplace": frozenset(
            {"fetch_orders", "map_order", "acknowledge_order", "on_shipped", "update_stock"}
        ),
        "store": frozenset({"find_order", "create_order", "find_shipments", "read_stock"}),
    },
    SyncLevel.STOCK_ONLY: {
        "marketplace": frozenset({"update_stock"}),
        "store": frozenset({"read_stock"}),
    },
}


async def await_maybe(value: Any) -> Any:
    """Await ``value`` when it is awaitable (an ``async def`` hook), else return it."""
    if inspect.isawaitable(value):
        return await value
    return value


async def iterate(value: Any) -> AsyncIterator[Any]:
    """Iterate a streaming hook's result: an async iterator, an awaitable of an iterable, or an iterable."""
    if hasattr(value, "__aiter__"):
        async for item in value:
            yield item
        return
    for item in await await_maybe(value) or ():
        yield item


@dataclass(frozen=True)
class InstalledPlugin:
    """An entry point of the ``ordersyncd.plugins`` group."""

    name: str
    distribution: str
    version: str
    target: str
    cls: type[PluginBase[Any]] | None
    error: str = ""

    @property
    def kind(self) -> str:
        return getattr(self.cls, "kind", "?") if self.cls else "?"

    def hooks(self) -> list[str]:
        """Names of the hooks the plugin class implements."""
        if self.cls is None:
            return []
        names = []
        for attr in dir(self.cls):
            member = getattr(self.cls, attr, None)
            if callable(member) and getattr(member, f"{hookspecs.PROJECT}_impl", None) is not None:
                names.append(attr)
        return sorted(names)


def discover_plugins() -> dict[str, InstalledPlugin]:
    """Every plugin installed under the entry-point group, loaded (a broken one carries its error)."""
    found: dict[str, InstalledPlugin] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        try:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, PluginBase)):
                raise TypeError("does not point at a MarketplacePlugin or StorePlugin subclass")
            found[ep.name] = InstalledPlugin(ep.name, dist, version, ep.value, cls)
        except Exception as error:  # a broken third-party plugin must not take the daemon down
            found[ep.name] = InstalledPlugin(
                ep.name, dist, version, ep.value, None, f"{type(error).__name__}: {error}"
            )
    return found


_IMPL_OPTS: dict[tuple[type, str], Any] = {}
_SPEC_OPTS: dict[tuple[Any, str], Any] = {}


class _Manager(pluggy.PluginManager):
    """A PluginManager that inspects each plugin *class* once. Hook markers live on the class's methods, so what
    pluggy finds for one instance holds for every instance; a daemon with thousands of connections registers
    thousands of instances of a few classes (pluggy's own inspection costs milliseconds per instance)."""

    def parse_hookimpl_opts(self, plugin: object, name: str) -> Any:
        key = (type(plugin), name)
        if key not in _IMPL_OPTS:
            _IMPL_OPTS[key] = super().parse_hookimpl_opts(plugin, name)
        return _IMPL_OPTS[key]

    def parse_hookspec_opts(self, module_or_class: Any, name: str) -> Any:
        key = (module_or_class, name)
        if key not in _SPEC_OPTS:
            _SPEC_OPTS[key] = super().parse_hookspec_opts(module_or_class, name)
        return _SPEC_OPTS[key]


def _manager(*instances: tuple[str, PluginBase[Any]]) -> pluggy.PluginManager:
    pm = _Manager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name, instance in instances:
        pm.register(instance, name=name)
    pm.check_pending()
    return pm


#: How pluggy calls the hooks of a marketplace class's and a store class's instances (``None``: a wrapper among
#: them, such connections get a manager of their own). One entry per pair of plugin classes.
_PLANS: dict[tuple[type, type], HookPlan | None] = {}


def _connection_hooks(
    market: PluginBase[Any], store: PluginBase[Any], names: tuple[str, str]
) -> tuple[HookPlan | None, pluggy.PluginManager | None]:
    """The hook plan of the instances' classes, or (a wrapper among them) a manager of their own."""
    key = (type(market), type(store))
    if key not in _PLANS:
        _PLANS[key] = plan_hooks(_manager((names[0], market), (names[1], store)), (market, store))
    plan = _PLANS[key]
    return (plan, None) if plan is not None else (None, _manager((names[0], market), (names[1], store)))


#: The same for the hooks that concern one block alone, by plugin class.
_BLOCK_PLANS: dict[type, HookPlan | None] = {}


def _block_plan(where: str, instance: PluginBase[Any]) -> HookPlan | None:
    if type(instance) not in _BLOCK_PLANS:
        _BLOCK_PLANS[type(instance)] = plan_hooks(_manager((where, instance)), (instance,))
    return _BLOCK_PLANS[type(instance)]


@dataclass
class ConnectionPlugins:
    """A connection's marketplace and store instances, how their hooks are called, and what hooks learn of it.

    ``plan`` calls the hooks as a pluggy manager holding the two instances would; ``pm`` is such a manager, kept
    instead only for plugin classes with hook wrappers (see :mod:`ordersyncd.dispatch`)."""

    info: ConnectionInfo
    settings: ConnectionConfig
    marketplace: PluginBase[Any]
    store: PluginBase[Any]
    plan: HookPlan | None = None
    pm: pluggy.PluginManager | None = None

    @property
    def marketplace_system(self) -> str:
        return self.settings.marketplace

    @property
    def store_system(self) -> str:
        return self.settings.store

    def implements(self, hook: str) -> bool:
        if self.plan is not None:
            return self.plan.implements(hook)
        assert self.pm is not None
        return bool(getattr(self.pm.hook, hook).get_hookimpls())

    def call(self, hook: str, **kwargs: Any) -> Any:
        """Call a hook with the connection; returns what the implementation returned (maybe awaitable)."""
        if not self.implements(hook):
            raise PluginError(f"no plugin of connection {self.info.name} implements {hook}")
        kwargs["connection"] = self.info
        if self.plan is not None:
            return self.plan.call(hook, (self.marketplace, self.store), kwargs)
        assert self.pm is not None
        return getattr(self.pm.hook, hook)(**kwargs)

    async def acall(self, hook: str, **kwargs: Any) -> Any:
        return await await_maybe(self.call(hook, **kwargs))


@dataclass
class PluginSet:
    """The plugin instances of one configuration, by block, and the connections' managers."""

    instances: dict[tuple[str, str], PluginBase[Any]] = field(default_factory=dict)
    connections: dict[str, ConnectionPlugins] = field(default_factory=dict)
    problems: list[ConfigProblem] = field(default_factory=list)
    managers: dict[tuple[str, str], pluggy.PluginManager] = field(default_factory=dict)

    def single(self, kind: str, name: str) -> pluggy.PluginManager:
        """The manager holding one block's instance, for hooks that concern the block alone (only for plugin
        classes with hook wrappers; the others are called through a plan, see :mod:`ordersyncd.dispatch`)."""
        if (kind, name) not in self.managers:
            self.managers[(kind, name)] = _manager((f"{kind}:{name}", self.instances[(kind, name)]))
        return self.managers[(kind, name)]

    def implements_block(self, kind: str, name: str, hook: str) -> bool:
        """Whether the block's plugin implements ``hook``."""
        plan = _block_plan(f"{kind}:{name}", self.instances[(kind, name)])
        if plan is not None:
            return plan.implements(hook)
        return bool(getattr(self.single(kind, name).hook, hook).get_hookimpls())

    async def call_block(self, kind: str, name: str, hook: str, **kwargs: Any) -> Any:
        """Call a hook that concerns the block alone (no manager is made for it: at start-up thousands of
        one-block managers outlived their use in the collector's oldest generation)."""
        if not self.implements_block(kind, name, hook):
            raise PluginError(f"plugin of {kind} {name} does not implement {hook}")
        instance = self.instances[(kind, name)]
        plan = _block_plan(f"{kind}:{name}", instance)
        if plan is not None:
            return await await_maybe(plan.call(hook, (instance,), kwargs))
        return await await_maybe(getattr(self.single(kind, name).hook, hook)(**kwargs))

    def all_instances(self) -> Iterable[tuple[str, str, PluginBase[Any]]]:
        for (kind, name), instance in self.instances.items():
            yield kind, name, instance


async def build_plugins(
    config: Config,
    installed: Mapping[str, InstalledPlugin],
    http_client_factory: Any,
    state_dir: Path | None = None,
) -> PluginSet:
    """Instantiate and validate every block and connection of ``config``; problems are collected, not raised."""
    result = PluginSet()
    invalid: set[tuple[str, str]] = set()  # blocks whose own validation failed
    state_dir = state_dir or config.daemon.state_dir
    blocks: list[BlockConfig] = [*config.stores.values(), *config.marketplaces.values()]
    kinds_present = {"store": "stores", "marketplace": "marketplaces"}
    for block in blocks:
        section = kinds_present[block.kind]
        plugin = installed.get(block.plugin)
        where = f"{section}.{block.name}"
        if plugin is None:
            known = ", ".join(sorted(n for n, p in installed.items() if p.kind == block.kind)) or "none"
            result.problems.append(
                ConfigProblem(
                    f"{where}.plugin",
                    f"unknown plugin {block.plugin!r} (installed {block.kind} plugins: {known})",
                    str(block.origins.get("plugin", block.file)),
                )
            )
            continue
        if plugin.cls is None:
            result.problems.append(
                ConfigProblem(
                    f"{where}.plugin",
                    f"plugin {block.plugin!r} failed to load: {plugin.error}",
                    str(block.origins.get("plugin", block.file)),
                )
            )
            continue
        if plugin.cls.kind != block.kind:
            result.problems.append(
                ConfigProblem(
                    f"{where}.plugin",
                    f"plugin {block.plugin!r} is a {plugin.cls.kind} plugin, not a {block.kind} plugin",
                    str(block.origins.get("plugin", block.file)),
                )
            )
            continue
        context = PluginContext(
            name=block.name,
            kind=block.kind,
            state_dir=state_dir / "plugins" / block.name,
            http_client_factory=http_client_factory,
        )
        instance = plugin.cls(name=block.name, config=block.settings, context=context)
        try:
            manager = _manager((where, instance))
        except pluggy.PluginValidationError as error:
            # A hook with a misspelt name or an argument the spec does not have: the plugin is broken.
            result.problems.append(
                ConfigProblem(
                    f"{where}.plugin",
                    f"plugin {block.plugin!r} is broken: {error}",
                    str(block.origins.get("plugin", block.file)),
                )
            )
            continue
        result.instances[(block.kind, block.name)] = instance
        result.managers[(block.kind, block.name)] = manager
        problems = await await_maybe(manager.hook.validate_config()) or []
        if problems:
            invalid.add((block.kind, block.name))
        for problem in problems:
            result.problems.append(
                ConfigProblem(
                    f"{where}.{problem.path}" if problem.path else where,
                    problem.message,
                    str(block.origin(problem.path) if problem.path else block.file),
                )
            )
        for key in getattr(plugin.cls, "secret_keys", ()):
            if isinstance(block.settings.get(key), str):
                log.warning(
                    "inline secret in configuration; prefer a reference",
                    key=f"{where}.{key}",
                    hint=f"use {key}_file, {key}_credential or {key}_env",
                )
    for conn in config.connections.values():
        market = result.instances.get(("marketplace", conn.marketplace))
        store = result.instances.get(("store", conn.store))
        if market is None or store is None:
            continue  # the block's own problem is already reported
        info = ConnectionInfo(
            name=conn.name,
            account=conn.marketplace,
            store=conn.store,
            level=conn.level,
            order_types=conn.order_types,
            options=conn.options,
        )
        plan, pm = _connection_hooks(
            market, store, (f"marketplace:{conn.marketplace}", f"store:{conn.store}")
        )
        plugins = ConnectionPlugins(
            info=info, settings=conn, marketplace=market, store=store, plan=plan, pm=pm
        )
        where = f"connections.{conn.name}"
        for kind, block_name, required in (
            ("marketplace", conn.marketplace, REQUIRED_HOOKS[conn.level]["marketplace"]),
            ("store", conn.store, REQUIRED_HOOKS[conn.level]["store"]),
        ):
            missing = sorted(h for h in required if not result.implements_block(kind, block_name, h))
            if missing:
                result.problems.append(
                    ConfigProblem(
                        f"{where}.level",
                        f"the {kind} plugin of this connection cannot do level {conn.level.value}: "
                        f"it lacks {', '.join(missing)}",
                        str(config.origin(where)),
                    )
                )
            if (kind, block_name) in invalid:
                continue  # its block is invalid: settings are not usable, the block's problems say why
            if result.implements_block(kind, block_name, "validate_connection"):
                found = await result.call_block(kind, block_name, "validate_connection", connection=info)
                for problem in found or []:
                    result.problems.append(
                        ConfigProblem(f"{where}.{problem.path}", problem.message, str(config.origin(where)))
                    )
        result.connections[conn.name] = plugins
    result.problems.extend(_shared_account_problems(config))
    return result


def _shared_account_problems(config: Config) -> list[ConfigProblem]:
    """Two active connections of one marketplace account must not both import the same orders (each would create
    every order in its store: the order key includes the connection) nor push stock from different stores (the
    marketplace keeps one quantity per product)."""
    problems: list[ConfigProblem] = []
    by_account: dict[str, list[ConnectionConfig]] = {}
    for conn in config.connections.values():
        if conn.active:
            by_account.setdefault(conn.marketplace, []).append(conn)
    for account, conns in by_account.items():
        for i, later in enumerate(conns):
            for earlier in conns[:i]:
                where = f"connections.{later.name}"
                both_import = earlier.level is later.level is SyncLevel.ORDERS_AND_STOCK
                overlap = (
                    not earlier.order_types
                    or not later.order_types
                    or bool(set(earlier.order_types) & set(later.order_types))
                )
                if both_import and overlap:
                    problems.append(
                        ConfigProblem(
                            f"{where}.marketplace",
                            f"connections {earlier.name!r} and {later.name!r} both import the orders of "
                            f"marketplace account {account!r}: every order would be created twice; give them "
                            "different order_types or make one stock_only",
                            str(config.origin(where)),
                        )
                    )
                if earlier.store != later.store:
                    problems.append(
                        ConfigProblem(
                            f"{where}.store",
                            f"connections {earlier.name!r} and {later.name!r} push stock of different stores "
                            f"({earlier.store!r}, {later.store!r}) to marketplace account {account!r}, which "
                            "keeps one quantity per product",
                            str(config.origin(where)),
                        )
                    )
    return problems
