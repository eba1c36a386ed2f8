"""Secret references: KEY_file, KEY_credential, KEY_env; problems never show a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import MINIMAL, WriteConfig, problem_at

from ordersyncd.config import load_config
from ordersyncd.errors import ConfigError
from ordersyncd.plugin import Secret

SECRET = "s3cr3t-Value-that-must-not-leak"


def load_error(main: Path, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(main, environ=environ or {})
    return caught.value


def with_store(extra: str) -> str:
    return MINIMAL.replace('plugin = "shopify"\n', 'plugin = "shopify"\n' + extra, 1)


def test_file_reference(write_config: WriteConfig, tmp_path: Path) -> None:
    (tmp_path / "token").write_text(SECRET + "\n\n", encoding="utf-8")  # only one newline is stripped
    main = write_config(with_store(f'token_file = "{tmp_path / "token"}"\n'))
    config = load_config(main, environ={})
    shop = config.stores["shop"]
    assert shop.settings == {"token": Secret(SECRET + "\n")}
    assert shop.origins == {"plugin": main, "token": main}
    assert config.secrets == (SECRET + "\n",)


def test_relative_file_reference_is_relative_to_the_file_that_set_it(write_config: WriteConfig) -> None:
    main = write_config(MINIMAL, **{"20-x.toml": '[stores.shop]\ntoken_file = "shop.token"\n'})
    (main.parent / "conf.d" / "shop.token").write_text(SECRET, encoding="utf-8")
    config = load_config(main, environ={})
    assert config.stores["shop"].settings["token"] == Secret(SECRET)
    assert config.stores["shop"].origin("token") == main.parent / "conf.d" / "20-x.toml"


def test_credential_reference(write_config: WriteConfig, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "shop-token").write_text(SECRET, encoding="utf-8")
    main = write_config(with_store('token_credential = "shop-token"\n'))
    config = load_config(main, environ={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert config.stores["shop"].settings == {"token": Secret(SECRET)}
    assert config.secrets == (SECRET,)


def test_env_reference(write_config: WriteConfig) -> None:
    main = write_config(with_store('token_env = "SHOP_TOKEN"\n'))
    config = load_config(main, environ={"SHOP_TOKEN": SECRET})
    assert config.stores["shop"].settings == {"token": Secret(SECRET)}
    assert config.secrets == (SECRET,)


def test_references_anywhere_inside_blocks_smtp_and_web(write_config: WriteConfig) -> None:
    main = write_config(
        with_store('[stores.shop.auth]\npassword_env = "A"\n[[stores.shop.hooks]]\nkey_env = "B"\n')
        + '[smtp]\npassword_env = "C"\n[web]\nsession_key_env = "D"\n[alerts]\nwebhook_env = "E"\n',
    )
    env = {"A": "secret-a", "B": "secret-b", "C": "secret-c", "D": "secret-d", "E": "not-resolved"}
    config = load_config(main, environ=env)
    assert config.stores["shop"].settings == {
        "auth": {"password": Secret("secret-a")},
        "hooks": [{"key": Secret("secret-b")}],
    }
    assert config.extra["smtp"] == {"password": Secret("secret-c")}
    assert config.extra["web"] == {"session_key": Secret("secret-d")}
    assert config.extra["alerts"] == {"webhook_env": "E"}  # alerts is passed through untouched
    assert sorted(config.secrets) == ["secret-a", "secret-b", "secret-c", "secret-d"]


def test_inline_secret_stays_a_plain_string(write_config: WriteConfig) -> None:
    config = load_config(write_config(with_store('token = "inline"\n')), environ={})
    assert config.stores["shop"].settings == {"token": "inline"}
    assert config.secrets == ()


def test_missing_secret_file(write_config: WriteConfig, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-token"
    main = write_config(MINIMAL, **{"20-x.toml": f'[stores.shop]\ntoken_file = "{missing}"\n'})
    problem = problem_at(load_error(main), "stores.shop.token_file")
    assert problem.file == str(main.parent / "conf.d" / "20-x.toml")
    assert problem.message == f"secret file {missing} does not exist"


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty"), (b"\n", "is empty"), (b"\xff\xfe", "is not valid UTF-8")],
)
def test_unusable_secret_file(
    write_config: WriteConfig, tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "token").write_bytes(content)
    main = write_config(with_store(f'token_file = "{tmp_path / "token"}"\n'))
    assert message in problem_at(load_error(main), "stores.shop.token_file").message


def test_secret_file_that_is_a_directory(write_config: WriteConfig, tmp_path: Path) -> None:
    main = write_config(with_store(f'token_file = "{tmp_path}"\n'))
    assert "is a directory" in problem_at(load_error(main), "stores.shop.token_file").message


def test_credential_without_credentials_directory(write_config: WriteConfig) -> None:
    main = write_config(
        MINIMAL.replace('plugin = "zalando"\n', 'plugin = "zalando"\nsecret_credential = "z"\n')
    )
    problem = problem_at(load_error(main), "marketplaces.zal.secret_credential")
    assert problem.file == str(main)
    assert "CREDENTIALS_DIRECTORY is not set" in problem.message


def test_credential_missing_in_credentials_directory(write_config: WriteConfig, tmp_path: Path) -> None:
    main = write_config(with_store('token_credential = "shop-token"\n'))
    problem = problem_at(
        load_error(main, {"CREDENTIALS_DIRECTORY": str(tmp_path)}), "stores.shop.token_credential"
    )
    assert problem.message == f"credential 'shop-token': {tmp_path / 'shop-token'} does not exist"


@pytest.mark.parametrize("name", ["../etc/shadow", "a/b", ".."])
def test_credential_name_must_be_a_plain_file_name(
    write_config: WriteConfig, tmp_path: Path, name: str
) -> None:
    main = write_config(with_store(f'token_credential = "{name}"\n'))
    error = load_error(main, {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert "invalid credential name" in problem_at(error, "stores.shop.token_credential").message


def test_unset_env_var(write_config: WriteConfig) -> None:
    main = write_config(with_store('token_env = "SHOP_TOKEN"\n'))
    problem = problem_at(load_error(main, {"OTHER": "x"}), "stores.shop.token_env")
    assert (problem.file, problem.message) == (str(main), "environment variable SHOP_TOKEN is not set")


def test_empty_env_var(write_config: WriteConfig) -> None:
    main = write_config(with_store('token_env = "SHOP_TOKEN"\n'))
    problem = problem_at(load_error(main, {"SHOP_TOKEN": ""}), "stores.shop.token_env")
    assert problem.message == "environment variable SHOP_TOKEN is empty"


@pytest.mark.parametrize("value", ["''", "5", "['A']"])
def test_reference_must_be_a_non_empty_string(write_config: WriteConfig, value: str) -> None:
    main = write_config(with_store(f"token_env = {value}\n"))
    assert "non-empty string" in problem_at(load_error(main), "stores.shop.token_env").message


def test_two_sources_for_one_secret(write_config: WriteConfig) -> None:
    main = write_config(
        with_store('token_env = "SHOP_TOKEN"\n'), **{"20-x.toml": '[stores.shop]\ntoken_credential = "t"\n'}
    )
    problem = problem_at(load_error(main, {"SHOP_TOKEN": SECRET}), "stores.shop.token")
    assert problem.file == str(main.parent / "conf.d" / "20-x.toml")  # the file that added the second source
    assert (
        problem.message
        == "secret is given more than once (token_credential, token_env); set only one of them"
    )


def test_inline_value_and_reference_conflict(write_config: WriteConfig) -> None:
    main = write_config(with_store(f'token = "{SECRET}"\ntoken_env = "SHOP_TOKEN"\n'))
    problem = problem_at(load_error(main, {"SHOP_TOKEN": SECRET}), "stores.shop.token")
    assert "(token, token_env)" in problem.message


def test_secret_values_never_appear_in_config_errors(write_config: WriteConfig, tmp_path: Path) -> None:
    (tmp_path / "good").write_text(SECRET + "-file", encoding="utf-8")
    main = write_config(
        with_store(f'token_file = "{tmp_path / "good"}"\napi_env = "API"\napi = "{SECRET}-inline"\n')
        + '[smtp]\npassword_env = "SMTP"\n[http]\nport = "x"\n'
    )
    error = load_error(main, {"API": SECRET + "-env", "SMTP": SECRET + "-smtp"})
    assert {p.path for p in error.problems} == {"stores.shop.api", "http.port"}
    shown = str(error) + repr(error) + repr(error.problems) + str(error.args)
    assert SECRET not in shown


def test_reference_keys_are_not_resolved_in_core_tables(write_config: WriteConfig) -> None:
    main = write_config(MINIMAL + 'store_env = "X"\n')
    assert (
        problem_at(load_error(main, {"X": "shop"}), "connections.zal-shop.store_env").message == "unknown key"
    )
