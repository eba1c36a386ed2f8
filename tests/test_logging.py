"""Logging: JSON lines off a terminal, key-values on one, secrets from the configuration redacted everywhere,
customer data only at debug level."""

from __future__ import annotations

import io
import json
from pathlib import Path

import structlog

from ordersyncd.config import load_config
from ordersyncd.logs import configure_logging

from support import write_config


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def config_with_secrets(tmp_path: Path) -> tuple[Path, str, str]:
    token_value = "tok-9f8e7d6c5b4a-live"
    env_value = "env-secret-1234567"
    token = tmp_path / "token"
    token.write_text(token_value + "\n")
    config = write_config(
        tmp_path,
        "http://127.0.0.1:9",
        token_file=token,
        extra='\n[smtp]\npassword_env = "ORDERSYNCD_TEST_SMTP_PASSWORD"\n',
    )
    return config, token_value, env_value


def test_secrets_of_the_real_configuration_never_reach_the_log(tmp_path: Path, monkeypatch):
    config_path, token_value, env_value = config_with_secrets(tmp_path)
    monkeypatch.setenv("ORDERSYNCD_TEST_SMTP_PASSWORD", env_value)
    config = load_config(config_path)
    assert set(config.secrets) == {token_value, env_value}
    stream = io.StringIO()
    configure_logging("debug", "json", config.secrets, stream=stream)
    log = structlog.get_logger("test")
    log.info("plain", value=token_value)
    log.warning("inside text", detail=f"Authorization: Bearer {token_value}; pw={env_value}")
    log.error("nested", payload={"headers": [{"authorization": token_value}], "n": 1})
    try:
        raise RuntimeError(f"upstream said {env_value}")
    except RuntimeError:
        log.exception("with traceback")
    import logging

    logging.getLogger("httpx").warning("stdlib logger leaking %s", token_value)
    text = stream.getvalue()
    assert token_value not in text and env_value not in text
    assert text.count("[redacted]") >= 6
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert lines[0]["event"] == "plain" and lines[0]["value"] == "[redacted]" and lines[0]["level"] == "info"
    assert lines[2]["payload"] == {"headers": [{"authorization": "[redacted]"}], "n": 1}


def test_customer_data_only_at_debug_level():
    stream = io.StringIO()
    configure_logging("debug", "json", stream=stream)
    log = structlog.get_logger("test")
    log.info("order created", email="erika@example.org", order_id="A1")
    log.debug("order payload", email="erika@example.org", order_id="A1")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["email"] == "[redacted]" and first["order_id"] == "A1"
    assert second["email"] == "erika@example.org"


def test_json_off_a_terminal_key_values_on_one():
    plain = io.StringIO()
    configure_logging("info", "auto", stream=plain)
    structlog.get_logger().info("hello", connection="c1")
    assert json.loads(plain.getvalue())["connection"] == "c1"
    tty = Tty()
    configure_logging("info", "auto", stream=tty)
    structlog.get_logger().info("hello", connection="c1")
    line = tty.getvalue()
    assert "hello" in line and "connection=c1" in line and not line.startswith("{")


def test_level_filters_below_configured_level():
    stream = io.StringIO()
    configure_logging("warning", "json", stream=stream)
    structlog.get_logger().info("not shown")
    structlog.get_logger().warning("shown")
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["shown"]
