"""Logging with structlog: JSON lines on stdout when not on a terminal (journald-friendly), readable key-values
on a terminal; secrets redacted everywhere; customer personal data only at debug level."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

__all__ = ["PERSONAL_KEYS", "SecretRedactor", "configure_logging", "drop_personal_data"]

REDACTED = "[redacted]"
#: Event keys holding customer personal data; dropped from events below debug level.
PERSONAL_KEYS = frozenset(
    {
        "customer",
        "email",
        "phone",
        "address",
        "billing_address",
        "shipping_address",
        "name",
        "first_name",
        "last_name",
        "street",
    }
)

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class SecretRedactor:
    """A structlog processor replacing every known secret value, wherever it appears in an event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: list[str] = []
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is replaced whole. Very short values are not treated
        # as secrets (they would redact ordinary words).
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._clean(v) for v in value)
        if isinstance(value, BaseException | bytes):
            return self._clean(str(value))
        return value

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if not self.secrets:
            return event
        for key in list(event):
            event[key] = self._clean(event[key])
        return event


def drop_personal_data(logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Keep personal data only in debug events."""
    if method != "debug":
        for key in PERSONAL_KEYS & event.keys():
            event[key] = REDACTED
    return event


def configure_logging(
    level: str = "info", fmt: str = "auto", secrets: Iterable[str] = (), stream: TextIO | None = None
) -> SecretRedactor:
    """Configure structlog (and route stdlib logging through it). Returns the redactor so a reload can add
    new secrets."""
    stream = stream or sys.stdout
    json_output = fmt == "json" or (fmt == "auto" and not stream.isatty())
    redactor = SecretRedactor(secrets)
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if json_output
        else structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0)
    )
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        drop_personal_data,
        structlog.processors.format_exc_info,
        redactor,
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # Libraries using stdlib logging (uvicorn, httpx) go to the same stream at warning and above.
    handler = logging.StreamHandler(stream)
    handler.addFilter(lambda record: _redact_record(record, redactor))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    return redactor


def _redact_record(record: logging.LogRecord, redactor: SecretRedactor) -> bool:
    message = record.getMessage()
    cleaned = redactor._clean(message)
    if cleaned != message:
        record.msg, record.args = cleaned, ()
    return True
