"""Invalid configurations: every problem names its file, key path and reason, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import MINIMAL, WriteConfig, problem_at

from ordersyncd.config import FileProblem, load_config
from ordersyncd.errors import ConfigError


def load_error(main: Path, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(main, environ=environ or {})
    return caught.value


def test_unknown_top_level_key(write_config: WriteConfig) -> None:
    main = write_config(MINIMAL + "\n[reporting]\nx = 1\n")
    problem = problem_at(load_error(main), "reporting")
    assert (problem.file, problem.message) == (str(main), "unknown key")


def test_reserved_sections_pass_but_others_do_not(write_config: WriteConfig) -> None:
    main = write_config('[smtp]\nhost = "h"\n[alerts]\nx = 1\n[web]\ny = 2\n[cluster]\nz = 3\n')
    error = load_error(main)
    assert [p.path for p in error.problems] == ["cluster"]


def test_unknown_key_inside_a_connection(write_config: WriteConfig) -> None:
    main = write_config(MINIMAL + 'pol_orders = "1m"\n\n[connections.zal-shop.intervals]\npoll_order = 60\n')
    error = load_error(main)
    assert problem_at(error, "connections.zal-shop.pol_orders").message == "unknown key"
    assert problem_at(error, "connections.zal-shop.intervals.poll_order").message == "unknown key"
    assert {p.file for p in error.problems} == {str(main)}


def test_name_is_not_a_settable_connection_key(write_config: WriteConfig) -> None:
    error = load_error(write_config(MINIMAL + 'name = "other"\n'))
    assert problem_at(error, "connections.zal-shop.name").message == "unknown key"


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("[daemon]\npid_file = 'x'\n", "daemon.pid_file"),
        ("[log]\ncolour = true\n", "log.colour"),
        ("[http]\nhost = 'x'\n", "http.host"),
    ],
)
def test_unknown_keys_in_core_tables(write_config: WriteConfig, text: str, path: str) -> None:
    assert problem_at(load_error(write_config(text)), path).message == "unknown key"


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        (MINIMAL + 'active = "yes"\n', "connections.zal-shop.active", "expected a boolean, got string"),
        (
            MINIMAL.replace('store = "shop"', "store = 5"),
            "connections.zal-shop.store",
            "expected a string, got integer",
        ),
        (
            MINIMAL + "order_types = 'FBR'\n",
            "connections.zal-shop.order_types",
            "expected an array, got string",
        ),
        (MINIMAL + "options = [1]\n", "connections.zal-shop.options", "expected a table, got array"),
        (MINIMAL + "intervals = 60\n", "connections.zal-shop.intervals", "expected a table, got integer"),
        ("[http]\nport = '80'\n", "http.port", "expected an integer, got string"),
        ("[http]\nport = true\n", "http.port", "expected an integer, got boolean"),
        ("[http]\nport = 1.5\n", "http.port", "expected an integer, got float"),
        ("[daemon]\nstate_dir = 7\n", "daemon.state_dir", "expected a string (a path), got integer"),
        ("daemon = 5\n", "daemon", "expected a table, got integer"),
        ("stores = [1]\n", "stores", "expected a table, got array"),
        ("[stores]\nshop = 'shopify'\n", "stores.shop", "expected a table, got string"),
        ("[http]\nlisten = 2024-01-01\n", "http.listen", "expected a string, got date/time"),
    ],
)
def test_wrong_types(write_config: WriteConfig, text: str, path: str, message: str) -> None:
    main = write_config(text)
    problem = problem_at(load_error(main), path)
    assert message in problem.message
    assert problem.file == str(main)


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("[log]\nlevel = 'verbose'\n", "log.level", "must be one of 'debug', 'info', 'warning' or 'error'"),
        ("[log]\nformat = 'xml'\n", "log.format", "got 'xml'"),
        ("[daemon]\nsqlite_synchronous = 'off'\n", "daemon.sqlite_synchronous", "'full' or 'normal'"),
        ("[daemon]\nstate_dir = ''\n", "daemon.state_dir", "must not be empty"),
        ("[http]\nlisten = 'example.com'\n", "http.listen", "must be an IP address or 'localhost'"),
        ("[http]\nport = 65536\n", "http.port", "must be between 1 and 65535"),
        ("[http]\nport = -1\n", "http.port", "must be between 1 and 65535"),
        ("[http]\npublic_url = 'ftp://x'\n", "http.public_url", "must be an http(s) URL"),
        ("[http]\npublic_url = 'orders.example.com'\n", "http.public_url", "must be an http(s) URL"),
        (MINIMAL + "level = 'all'\n", "connections.zal-shop.level", "'orders_and_stock' or 'stock_only'"),
        (MINIMAL.replace('store = "shop"', "store = ''"), "connections.zal-shop.store", "must not be empty"),
        (MINIMAL + "backoff_initial = 0\n", "connections.zal-shop.backoff_initial", "more than 0 seconds"),
        (
            MINIMAL + "backoff_initial = '10m'\nbackoff_max = '1m'\n",
            "connections.zal-shop.backoff_max",
            "must not be less than backoff_initial (600 s)",
        ),
        (
            MINIMAL + "[connections.zal-shop.intervals]\nadvance_orders = '500ms'\n",
            "connections.zal-shop.intervals.advance_orders",
            "invalid duration '500ms'",
        ),
        (
            MINIMAL + "[connections.zal-shop.intervals]\nreconcile = 0.5\n",
            "connections.zal-shop.intervals.reconcile",
            "must be at least 1 second",
        ),
    ],
)
def test_bad_values(write_config: WriteConfig, text: str, path: str, message: str) -> None:
    assert message in problem_at(load_error(write_config(text)), path).message


@pytest.mark.parametrize(
    ("value", "message"),
    [("'10x'", "invalid duration '10x'"), ("-5", "finite number of seconds"), ("true", "got a boolean")],
)
def test_bad_duration(write_config: WriteConfig, value: str, message: str) -> None:
    main = write_config(MINIMAL + f"overlap = {value}\n")
    problem = problem_at(load_error(main), "connections.zal-shop.overlap")
    assert message in problem.message
    assert problem.file == str(main)


def test_missing_plugin(write_config: WriteConfig) -> None:
    main = write_config("[stores.shop]\nurl = 'https://x'\n[marketplaces.zal]\nplugin = ''\n")
    error = load_error(main)
    assert problem_at(error, "stores.shop.plugin").message == "required key is missing"
    assert "non-empty string" in problem_at(error, "marketplaces.zal.plugin").message


def test_missing_required_key_is_blamed_on_the_file_defining_the_block(write_config: WriteConfig) -> None:
    main = write_config(MINIMAL, **{"30-conn.toml": "[connections.extra]\nmarketplace = 'zal'\n"})
    problem = problem_at(load_error(main), "connections.extra.store")
    assert problem.message == "required key is missing"
    assert problem.file == str(main.parent / "conf.d" / "30-conn.toml")


def test_duplicate_name_across_store_and_marketplace(write_config: WriteConfig) -> None:
    main = write_config(
        "[stores.acme]\nplugin = 'shopify'\n", **{"10-m.toml": "[marketplaces.acme]\nplugin = 'x'\n"}
    )
    problem = problem_at(load_error(main), "marketplaces.acme")
    assert "name 'acme' is used for both a store and a marketplace" in problem.message
    assert problem.file == str(main.parent / "conf.d" / "10-m.toml")


def test_connection_naming_unknown_store_and_marketplace(write_config: WriteConfig) -> None:
    main = write_config(
        "[stores.a]\nplugin = 'shopify'\n[stores.b]\nplugin = 'shopify'\n"
        "[connections.c]\nmarketplace = 'zal'\nstore = 'x'\n"
    )
    error = load_error(main)
    store = problem_at(error, "connections.c.store")
    assert (store.file, store.message) == (str(main), "unknown store 'x' (known: a, b)")
    assert problem_at(error, "connections.c.marketplace").message == "unknown marketplace 'zal' (known: none)"


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('[stores."My Shop"]\nplugin = "shopify"\n', 'stores."My Shop"'),
        ("[marketplaces._zal]\nplugin = 'zalando'\n", "marketplaces._zal"),
        (MINIMAL.replace("zal-shop", "Zal-Shop"), "connections.Zal-Shop"),
        ("[stores.%s]\nplugin = 'shopify'\n" % ("a" * 64), "stores." + "a" * 64),
    ],
)
def test_invalid_names(write_config: WriteConfig, text: str, path: str) -> None:
    main = write_config(text)
    problem = problem_at(load_error(main), path)
    assert "invalid name" in problem.message
    assert "lowercase letters, digits" in problem.message
    assert problem.file == str(main)


def test_toml_syntax_error_names_file_line_and_column(write_config: WriteConfig) -> None:
    main = write_config(MINIMAL, **{"20-x.toml": "[http]\nport = 80\nlisten = \n"})
    error = load_error(main)
    (problem,) = error.problems
    dropin = main.parent / "conf.d" / "20-x.toml"
    assert isinstance(problem, FileProblem)
    assert (problem.file, problem.line, problem.column) == (str(dropin), 3, 10)
    assert "TOML syntax error" in problem.message
    assert str(error).startswith(f"{dropin}:3:10: TOML syntax error: ")


def test_every_file_with_a_syntax_error_is_reported(write_config: WriteConfig) -> None:
    main = write_config("[daemon\n", **{"10-a.toml": "x = = 1\n", "20-b.toml": "[log]\nlevel='info'\n"})
    error = load_error(main)
    assert [(p.file, getattr(p, "line", None)) for p in error.problems] == [
        (str(main), 1),
        (str(main.parent / "conf.d" / "10-a.toml"), 1),
    ]


def test_missing_main_file(tmp_path: Path) -> None:
    main = tmp_path / "nowhere.toml"
    (problem,) = load_error(main).problems
    assert (problem.file, problem.message) == (str(main), "configuration file not found")
    assert str(problem) == f"{main}: configuration file not found"


def test_problem_caused_by_a_dropin_names_the_dropin(write_config: WriteConfig) -> None:
    main = write_config(
        MINIMAL + "[connections.zal-shop.intervals]\npoll_orders = '5m'\n",
        **{
            "10-ok.toml": "[log]\nlevel = 'debug'\n",
            "20-x.toml": "[connections.zal-shop.intervals]\npoll_orders = '5 min'\n",
        },
    )
    problem = problem_at(load_error(main), "connections.zal-shop.intervals.poll_orders")
    assert problem.file == str(main.parent / "conf.d" / "20-x.toml")
    assert "invalid duration '5 min'" in problem.message


def test_several_problems_are_reported_at_once(write_config: WriteConfig) -> None:
    main = write_config(
        MINIMAL.replace('"shop"\n', "'nope'\n", 1) + "active = 1\n[log]\nlevel = 'loud'\n[mystery]\n",
        **{"50-late.toml": "[http]\nport = 99999\n"},
    )
    error = load_error(main, {})
    late = str(main.parent / "conf.d" / "50-late.toml")
    assert {(p.file, p.path) for p in error.problems} == {
        (str(main), "connections.zal-shop.active"),
        (str(main), "connections.zal-shop.store"),
        (str(main), "log.level"),
        (str(main), "mystery"),
        (late, "http.port"),
    }
    assert len(str(error).splitlines()) == 5
    assert f"{late}: http.port: must be between 1 and 65535" in str(error)
