"""Validation of the ``[smtp]`` and ``[alerts]`` sections (and ``connections.NAME.options.alert_recipients``).

The core configuration passes these sections through untouched (``Config.extra``, secret references already
resolved); :func:`load_alert_config` validates them and reports every problem as a
:class:`ordersyncd.errors.ConfigProblem` with its key path and file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, ValidationError

from ..config import Config
from ..config.schema import Duration
from ..errors import ConfigProblem
from ..plugin import Secret

__all__ = ["AlertConfig", "AlertSettings", "SmtpSettings", "load_alert_config", "problems_from"]

_ADDRESS = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


def _host(value: str) -> str:
    if not value or any(c.isspace() for c in value):
        raise ValueError("must be a host name or IP address")
    return value


def _clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError(f"must be a time of day HH:MM (UTC), got {value!r}")
    return value


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be more than 0 seconds")
    return value


Address = Annotated[StrictStr, AfterValidator(_address)]
_Positive = Annotated[Duration, AfterValidator(_positive)]
_STRICT = ConfigDict(frozen=True, extra="forbid", strict=True, arbitrary_types_allowed=True)


class SmtpSettings(BaseModel):
    """``[smtp]``: how alert e-mails are sent."""

    model_config = _STRICT

    host: Annotated[StrictStr, AfterValidator(_host)]
    #: Default by ``security``: 465 for ``tls``, 587 for ``starttls``, 25 for ``none``.
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    #: ``tls``: implicit TLS from the first byte; ``starttls``: upgrade a plain connection; ``none``: plain.
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: StrictStr = ""
    #: Only as ``password_file``, ``password_credential`` or ``password_env``.
    password: Secret | None = None
    sender: Address
    timeout: _Positive = 30.0
    #: A PEM file of CA certificates to trust instead of the system's (a private CA).
    ca_bundle: StrictStr = ""

    @property
    def effective_port(self) -> int:
        """The port to connect to."""
        if self.port is not None:
            return self.port
        return {"tls": 465, "starttls": 587, "none": 25}[self.security]


class AlertSettings(BaseModel):
    """``[alerts]``: who is told, how often, and how failures are retried."""

    model_config = _STRICT

    enabled: bool = True
    #: Default recipients; a connection's ``options.alert_recipients`` replaces them for its orders.
    recipients: Annotated[tuple[Address, ...], Field(strict=False)] = ()
    #: A reminder while the codes are still missing, this long after the last e-mail (0: no reminders).
    reminder_interval: Annotated[Duration, AfterValidator(_non_negative)] = 86_400.0
    #: Send one summary of every open alert a day, at ``digest_time`` (UTC), to ``recipients``.
    digest: bool = False
    digest_time: Annotated[StrictStr, AfterValidator(_clock)] = "08:00"
    #: Backoff while the SMTP server is unreachable: from ``retry_initial`` doubling up to ``retry_max``.
    retry_initial: _Positive = 30.0
    retry_max: _Positive = 3600.0
    #: How often the queue is looked at.
    check_interval: _Positive = 10.0


@dataclass(frozen=True)
class AlertConfig:
    """The validated alert configuration: SMTP (``None`` when no ``[smtp]``), alert settings and the
    recipients of each connection."""

    smtp: SmtpSettings | None
    alerts: AlertSettings
    connection_recipients: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def recipients(self, connection: str) -> tuple[str, ...]:
        """Who is told about this connection's orders."""
        return self.connection_recipients.get(connection) or self.alerts.recipients

    @property
    def can_send(self) -> bool:
        """True when e-mails are enabled and an SMTP server is configured."""
        return self.alerts.enabled and self.smtp is not None


def problems_from(error: ValidationError, prefix: str, config: Config) -> list[ConfigProblem]:
    """One :class:`ConfigProblem` per pydantic error, with the key path below ``prefix`` and its file.
    Input values are never included (they may be secrets)."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        path = ".".join([prefix, *(str(p) for p in item["loc"] if not isinstance(p, int))])
        message = item["msg"]
        if item["type"] == "missing":
            message = "required key is missing"
        elif item["type"] == "extra_forbidden":
            message = "unknown key"
        message = message.removeprefix("Value error, ")
        problems.append(ConfigProblem(path, message, _origin(config, path)))
    return problems


def _origin(config: Config, path: str) -> str:
    try:
        return str(config.origin(path))
    except (ValueError, KeyError):
        return str(config.main_file)


def _table(config: Config, name: str, problems: list[ConfigProblem]) -> dict[str, Any] | None:
    value = config.extra.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append(ConfigProblem(name, "must be a table", _origin(config, name)))
        return None
    return value


def load_alert_config(config: Config) -> tuple[AlertConfig | None, list[ConfigProblem]]:
    """Validate ``[smtp]``, ``[alerts]`` and every connection's ``options.alert_recipients``."""
    problems: list[ConfigProblem] = []
    smtp: SmtpSettings | None = None
    alerts = AlertSettings()
    smtp_table = _table(config, "smtp", problems)
    if smtp_table is not None:
        try:
            smtp = SmtpSettings.model_validate(smtp_table)
        except ValidationError as error:
            problems += problems_from(error, "smtp", config)
    alerts_table = _table(config, "alerts", problems)
    if alerts_table is not None:
        try:
            alerts = AlertSettings.model_validate(alerts_table)
        except ValidationError as error:
            problems += problems_from(error, "alerts", config)
    per_connection: dict[str, tuple[str, ...]] = {}
    for name, connection in config.connections.items():
        value = connection.options.get("alert_recipients")
        if value is None:
            continue
        path = f"connections.{name}.options.alert_recipients"
        if not isinstance(value, list) or not all(isinstance(v, str) and _ADDRESS.match(v) for v in value):
            problems.append(ConfigProblem(path, "must be a list of e-mail addresses", _origin(config, path)))
            continue
        per_connection[name] = tuple(value)
    if smtp is not None and smtp.password is not None and not smtp.username:
        problems.append(
            ConfigProblem("smtp.username", "a password is set but no username", _origin(config, "smtp"))
        )
    if smtp is not None and alerts.enabled and not alerts.recipients:
        missing = [n for n in config.connections if n not in per_connection]
        if missing:
            problems.append(
                ConfigProblem(
                    "alerts.recipients",
                    "no recipients for the alerts of connection(s) " + ", ".join(sorted(missing)),
                    _origin(config, "alerts" if alerts_table is not None else "smtp"),
                )
            )
    if alerts.digest and smtp is not None and not alerts.recipients:
        problems.append(
            ConfigProblem("alerts.digest", "the digest needs [alerts] recipients", _origin(config, "alerts"))
        )
    if problems:
        return None, problems
    return AlertConfig(smtp, alerts, per_connection), []
