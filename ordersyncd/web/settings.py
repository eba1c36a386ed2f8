"""Validation of the ``[web]`` section: how people log in to the pages."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, ValidationError

from ..alerts.settings import problems_from
from ..config import Config
from ..config.schema import Duration
from ..errors import ConfigProblem
from ..plugin import Secret
from .passwords import parse_hash

__all__ = ["WebSettings", "load_web_settings"]


def _hash(value: str) -> str:
    if value:
        parse_hash(value)
    return value


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be more than 0 seconds")
    return value


_Positive = Annotated[Duration, AfterValidator(_positive)]


class WebSettings(BaseModel):
    """``[web]``: login to the pages and their JSON API."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, arbitrary_types_allowed=True)

    #: scrypt hash of the page password (``python -m ordersyncd.web.passwords``).
    password_hash: Annotated[StrictStr, AfterValidator(_hash)] = ""
    #: A login token instead of (or besides) the password: only as ``token_file``/``token_credential``/``token_env``.
    token: Secret | None = None
    #: Mark the session cookie ``Secure`` (sent over HTTPS only). Set false only for plain http on loopback.
    cookie_secure: bool = True
    session_lifetime: _Positive = 12 * 3600.0
    #: Failed logins allowed per client address within ``login_window`` before logins are refused.
    login_attempts: Annotated[int, Field(ge=1, le=1000)] = 5
    login_window: _Positive = 900.0
    page_size: Annotated[int, Field(ge=5, le=500)] = 50


def load_web_settings(config: Config) -> tuple[WebSettings | None, list[ConfigProblem]]:
    """Validate ``[web]`` (defaults when absent)."""
    table = config.extra.get("web")
    if table is None:
        return WebSettings(), []
    if not isinstance(table, dict):
        return None, [ConfigProblem("web", "must be a table", str(config.main_file))]
    try:
        return WebSettings.model_validate(table), []
    except ValidationError as error:
        return None, problems_from(error, "web", config)
