"""Valid configurations: defaults, drop-ins and origins, secrets, environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import MINIMAL, WriteConfig

from ordersyncd.config import (
    BlockConfig,
    Config,
    ConnectionConfig,
    Intervals,
    default_config_path,
    load_config,
)
from ordersyncd.model import SyncLevel
from ordersyncd.plugin import Secret

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = FIXTURES / "example" / "ordersyncd.toml"
EXAMPLE_ENV = {"CREDENTIALS_DIRECTORY": str(FIXTURES / "credentials"), "SMTP_PASSWORD": "smtp-pass-123"}


def test_defaults(write_config: WriteConfig) -> None:
    config = load_config(write_config(MINIMAL), environ={})

    assert config.daemon.state_dir == Path("/var/lib/ordersyncd")
    assert config.daemon.stop_timeout == 20.0
    assert config.daemon.sqlite_synchronous == "full"
    assert (config.log.level, config.log.format) == ("info", "auto")
    assert (config.http.listen, config.http.port, config.http.public_url) == ("127.0.0.1", 9850, "")
    connection = config.connections["zal-shop"]
    assert connection == ConnectionConfig(name="zal-shop", marketplace="zal", store="shop")
    assert connection.active is True
    assert connection.level is SyncLevel.ORDERS_AND_STOCK
    assert connection.order_types == ()
    assert connection.options == {}
    assert (connection.overlap, connection.initial_lookback, connection.reconcile_window) == (
        600.0,
        7 * 86400.0,
        3 * 86400.0,
    )
    assert (connection.backoff_initial, connection.backoff_max) == (5.0, 1800.0)
    assert connection.intervals == Intervals(
        poll_orders=120, advance_orders=30, poll_shipments=300, sync_stock=900, reconcile=3600
    )
    assert config.stores["shop"] == BlockConfig(
        name="shop",
        kind="store",
        plugin="shopify",
        settings={},
        file=config.main_file,
        origins={"plugin": config.main_file},
    )
    assert config.secrets == ()
    assert config.extra == {}


def test_empty_file_is_a_valid_idle_configuration(write_config: WriteConfig) -> None:
    config = load_config(write_config(""), environ={})
    assert (config.stores, config.marketplaces, config.connections) == ({}, {}, {})


def test_state_directory_from_systemd_is_honoured(write_config: WriteConfig) -> None:
    main = write_config(MINIMAL)
    assert load_config(main, environ={"STATE_DIRECTORY": "/var/lib/private/x"}).daemon.state_dir == Path(
        "/var/lib/private/x"
    )
    # Several StateDirectory= entries are colon-separated; the first is ours.
    assert load_config(main, environ={"STATE_DIRECTORY": "/a:/b"}).daemon.state_dir == Path("/a")


def test_relative_state_dir_is_relative_to_the_file_that_set_it(write_config: WriteConfig) -> None:
    main = write_config("[daemon]\nstate_dir = 'state/here'\n")
    assert load_config(main, environ={}).daemon.state_dir == (main.parent / "state" / "here").resolve()


def test_state_dir_in_file_beats_state_directory(write_config: WriteConfig) -> None:
    main = write_config('[daemon]\nstate_dir = "/srv/ordersyncd"\n')
    config = load_config(main, environ={"STATE_DIRECTORY": "/var/lib/x"})
    assert config.daemon.state_dir == Path("/srv/ordersyncd")


def test_default_config_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORDERSYNCD_CONFIG", raising=False)
    assert default_config_path() == Path("/etc/ordersyncd/ordersyncd.toml")
    monkeypatch.setenv("ORDERSYNCD_CONFIG", "/opt/o.toml")
    assert default_config_path() == Path("/opt/o.toml")
    assert default_config_path(environ={"ORDERSYNCD_CONFIG": "/x.toml"}) == Path("/x.toml")
    assert default_config_path(environ={"ORDERSYNCD_CONFIG": ""}) == Path("/etc/ordersyncd/ordersyncd.toml")


def test_path_none_uses_ordersyncd_config_from_environ(write_config: WriteConfig) -> None:
    main = write_config('[log]\nlevel = "error"\n')
    assert load_config(None, environ={"ORDERSYNCD_CONFIG": str(main)}).log.level == "error"


def test_complete_example(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(EXAMPLE, environ=EXAMPLE_ENV)
    dropin = EXAMPLE.parent / "conf.d" / "10-stock-only.toml"

    assert config.files == (EXAMPLE, dropin)
    assert (config.daemon.stop_timeout, config.daemon.sqlite_synchronous) == (30.0, "normal")
    assert (config.log.level, config.log.format) == ("debug", "json")
    assert (config.http.listen, config.http.port) == ("::1", 9851)
    assert config.http.public_url == "https://orders.example.com"

    connection = config.connections["zalando-de-shop"]
    assert connection.level is SyncLevel.STOCK_ONLY  # from the drop-in
    assert connection.order_types == ("FBR", "FBZ")
    assert (connection.overlap, connection.initial_lookback, connection.backoff_max) == (900, 172800, 3600)
    assert connection.options == {"zss": True}
    assert connection.intervals.poll_orders == 60.0  # main file
    assert connection.intervals.sync_stock == 7200.0  # drop-in replaced "1h30m"
    assert connection.intervals.reconcile == 3600.0  # default

    assert config.origin("connections.zalando-de-shop.level") == dropin
    assert config.origin("connections.zalando-de-shop.intervals.sync_stock") == dropin
    assert config.origin("connections.zalando-de-shop.intervals.poll_orders") == EXAMPLE
    assert config.origin("connections.zalando-de-shop.intervals.reconcile") == EXAMPLE  # default: its table
    assert config.origin("connections.zalando-de-shop") == EXAMPLE  # a table: its first definer

    shop = config.stores["shop"]
    assert shop.plugin == "shopify"
    assert shop.settings == {
        "shop_url": "https://example.myshopify.com",
        "access_token": Secret("shpat_example_token"),  # trailing newline stripped
    }
    assert shop.origins == {"plugin": EXAMPLE, "shop_url": EXAMPLE, "access_token": EXAMPLE}
    zalando = config.marketplaces["zalando-de"]
    assert zalando.kind == "marketplace"
    assert zalando.settings["client_secret"] == Secret("zalando-secret-value")
    assert "client_secret_credential" not in zalando.settings

    assert config.extra["smtp"] == {"host": "mail.example.com", "password": Secret("smtp-pass-123")}
    assert config.extra["alerts"] == {"to": ["ops@example.com"]}
    assert set(config.secrets) == {"shpat_example_token", "zalando-secret-value", "smtp-pass-123"}
    assert len(config.secrets) == 3


def test_secrets_never_in_repr_of_config() -> None:
    config = load_config(EXAMPLE, environ=EXAMPLE_ENV)
    text = repr(config) + str(config)
    assert config.secrets  # the check below is meaningful only with secrets loaded
    for secret in config.secrets:
        assert secret not in text


def test_dropins_merge_deeply_in_lexical_order(write_config: WriteConfig) -> None:
    main = write_config(
        MINIMAL + "\n[stores.shop.nested]\na = 1\nb = [1, 2]\n",
        **{
            "20-b.toml": '[stores.shop.nested]\nb = [3]\nc = "x"\n',
            "10-a.toml": "[stores.shop.nested]\na = 2\nc = 1\n",
            ".#50-lock.toml": "this is not TOML and must be ignored",
            "30-not-toml.txt": "neither is this",
        },
    )
    config = load_config(main, environ={})
    dropins = main.parent / "conf.d"
    assert config.files == (main, dropins / "10-a.toml", dropins / "20-b.toml")
    assert config.stores["shop"].settings == {"nested": {"a": 2, "b": [3], "c": "x"}}
    assert config.stores["shop"].origins == {
        "plugin": main,
        "nested": main,
        "nested.a": dropins / "10-a.toml",
        "nested.b": dropins / "20-b.toml",
        "nested.c": dropins / "20-b.toml",
    }
    assert config.stores["shop"].origin("nested.b") == dropins / "20-b.toml"
    assert config.stores["shop"].origin("nested.zzz") == main
    assert config.stores["shop"].origin("") == main


def test_table_replaced_by_a_value_forgets_old_origins(write_config: WriteConfig) -> None:
    main = write_config(
        MINIMAL + "\n[stores.shop.opt]\nx = 1\n",
        **{"10-a.toml": "[stores.shop]\nopt = 5\n"},
    )
    config = load_config(main, environ={})
    assert config.stores["shop"].settings == {"opt": 5}
    assert config.stores["shop"].origins == {"plugin": main, "opt": main.parent / "conf.d" / "10-a.toml"}


def test_config_is_frozen(write_config: WriteConfig) -> None:
    config: Config = load_config(write_config(MINIMAL), environ={})
    with pytest.raises(AttributeError):
        config.files = ()  # type: ignore[misc]
    with pytest.raises(ValueError, match="frozen"):
        config.connections["zal-shop"].active = False


def test_origin_rejects_malformed_paths(write_config: WriteConfig) -> None:
    config = load_config(write_config(MINIMAL), environ={})
    with pytest.raises(ValueError, match="not a key path"):
        config.origin("a..b")


def test_port_zero_and_localhost_are_accepted(write_config: WriteConfig) -> None:
    config = load_config(write_config('[http]\nlisten = "localhost"\nport = 0\n'), environ={})
    assert (config.http.listen, config.http.port) == ("localhost", 0)


def _every_key_path(value: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _every_key_path(item, (*prefix, key))
        found.append((*prefix, "not-set"))
    return found


def test_compacted_origins_answer_every_look_up_as_before(write_config: WriteConfig) -> None:
    main = write_config(
        MINIMAL + "\n[stores.shop.nested]\na = 1\nb = [1, 2]\n[stores.shop.nested.deep]\nx = 1\n",
        **{
            "10-a.toml": "[stores.shop.nested]\na = 2\nc = 1\n[stores.shop.nested.deep]\ny = 2\n",
            "20-b.toml": '[stores.shop.nested]\nb = [3]\nc = "x"\n[connections.zal-shop.intervals]\npoll_orders = "5m"\n',
            "30-c.toml": '[stores.extra]\nplugin = "shopify"\n[stores.extra.deep]\nz = 1\n',
        },
    )
    config = load_config(main, environ={})
    assert config.origins is not None
    paths = _every_key_path(_tree(config))
    before = {path: config.origins.lookup(path) for path in paths}
    blocks = [*config.stores.values(), *config.marketplaces.values()]
    block_keys = {
        block.name: [".".join(p) for p in _every_key_path(block.settings)] + [""] for block in blocks
    }
    block_before = {b.name: {k: b.origin(k) for k in block_keys[b.name]} for b in blocks}
    records_before = len(config.origins.snapshot()) + sum(len(b.origins) for b in blocks)

    config.compact_origins()

    assert {path: config.origins.lookup(path) for path in paths} == before
    assert {b.name: {k: b.origin(k) for k in block_keys[b.name]} for b in blocks} == block_before
    # What a drop-in set is still known; what only repeats its enclosing key's file is gone.
    dropins = main.parent / "conf.d"
    assert config.origin("connections.zal-shop.intervals.poll_orders") == dropins / "20-b.toml"
    assert config.stores["shop"].origins == {
        "nested.a": dropins / "10-a.toml",
        "nested.b": dropins / "20-b.toml",
        "nested.c": dropins / "20-b.toml",
        "nested.deep.y": dropins / "10-a.toml",
    }
    assert config.stores["extra"].origins == {}
    assert len(config.origins.snapshot()) + sum(len(b.origins) for b in blocks) < records_before / 2


def _tree(config: Config) -> dict[str, object]:
    """The merged document's shape, rebuilt from the origin records (every key any file set)."""
    assert config.origins is not None
    tree: dict[str, object] = {}
    for path in config.origins.snapshot():
        node = tree
        for key in path:
            child = node.setdefault(key, {})
            assert isinstance(child, dict)
            node = child
    return tree


def test_compacted_origins_of_one_file_are_empty(write_config: WriteConfig) -> None:
    config = load_config(write_config(MINIMAL), environ={})
    assert config.origins is not None and config.origins.snapshot()
    config.compact_origins()
    assert config.origins.snapshot() == {}
    assert all(not block.origins for block in (*config.stores.values(), *config.marketplaces.values()))
    assert config.origin("connections.zal-shop.intervals.poll_orders") == config.main_file
