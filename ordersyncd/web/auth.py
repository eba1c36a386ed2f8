"""Login, sessions, CSRF and rate limiting of failed logins for the pages and their JSON API.

Sessions live in the daemon's memory (a restart logs everyone out). The cookie holds only a random session id
and is ``HttpOnly``, ``SameSite=Strict`` and ``Secure`` (unless ``[web] cookie_secure = false``). Every form
carries the session's CSRF token; a POST without it (or with another one) is refused.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread
import structlog
from starlette.requests import Request
from starlette.responses import Response

from .passwords import verify_password
from .settings import WebSettings

__all__ = ["COOKIE", "Authenticator", "LoginLimiter", "Session", "Sessions", "safe_next"]

log = structlog.get_logger("ordersyncd.web")

COOKIE = "ordersyncd_session"
ANONYMOUS_LIFETIME = 900.0
MAX_SESSIONS = 10_000


@dataclass
class Session:
    """One browser's session: its CSRF token, whether it logged in, and messages for the next page."""

    id: str
    csrf: str
    authenticated: bool
    expires: float
    flashes: list[tuple[str, str]] = field(default_factory=list)

    def flash(self, kind: str, text: str) -> None:
        """Show ``text`` (kind ``ok`` or ``error``) on the next page rendered."""
        self.flashes.append((kind, text))

    def take_flashes(self) -> list[tuple[str, str]]:
        """The messages to show now (then forgotten)."""
        taken, self.flashes = self.flashes, []
        return taken

    def csrf_ok(self, submitted: str | None) -> bool:
        """True when ``submitted`` is this session's CSRF token."""
        return bool(submitted) and hmac.compare_digest(str(submitted), self.csrf)


class Sessions:
    """The sessions of the daemon's pages (in memory)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._sessions: dict[str, Session] = {}

    def create(self, authenticated: bool, lifetime: float) -> Session:
        """A new session with fresh id and CSRF token."""
        now = self.clock()
        if len(self._sessions) >= MAX_SESSIONS:
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
            if len(self._sessions) >= MAX_SESSIONS:  # still full: drop the oldest anonymous ones first
                for key in sorted(
                    self._sessions, key=lambda k: (self._sessions[k].authenticated, self._sessions[k].expires)
                )[: MAX_SESSIONS // 10]:
                    del self._sessions[key]
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), authenticated, now + lifetime)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, if any."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.expires <= self.clock():
            del self._sessions[session_id]
            return None
        return session

    def drop(self, session_id: str) -> None:
        """End a session (logout, or replaced at login)."""
        self._sessions.pop(session_id, None)


class LoginLimiter:
    """Counts failed logins per client address; refuses logins after too many within the window."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, window: float) -> deque[float]:
        now = self.clock()
        failures = self._failures.setdefault(client, deque())
        while failures and failures[0] <= now - window:
            failures.popleft()
        return failures

    def retry_after(self, client: str, attempts: int, window: float) -> float:
        """Seconds until this client may try again (0: now)."""
        failures = self._recent(client, window)
        if len(failures) < attempts:
            return 0.0
        return max(1.0, failures[-attempts] + window - self.clock())

    def failed(self, client: str, window: float) -> int:
        """Record a failure; returns the failures within the window."""
        failures = self._recent(client, window)
        failures.append(self.clock())
        if len(self._failures) > 10_000:  # bound memory under a spray of addresses
            self._failures = {k: v for k, v in self._failures.items() if v}
        return len(failures)

    def succeeded(self, client: str) -> None:
        """Forget the failures of a client that logged in."""
        self._failures.pop(client, None)


class Authenticator:
    """Checks page logins against the password hash, the configured token or (when neither is configured)
    the daemon's API token from ``STATE_DIR/api-token``."""

    def __init__(self, settings: Callable[[], WebSettings], api_token: Callable[[], str]) -> None:
        self.settings = settings
        self.api_token = api_token

    async def check(self, secret: str) -> bool:
        """True when ``secret`` is the page password or a valid token."""
        if not secret:
            return False
        settings = self.settings()
        ok = False
        if settings.password_hash:
            ok = await anyio.to_thread.run_sync(verify_password, secret, settings.password_hash)
        if settings.token is not None:
            ok = hmac.compare_digest(secret.encode(), settings.token.reveal().encode()) or ok
        if not settings.password_hash and settings.token is None:
            expected = self.api_token()
            ok = bool(expected) and hmac.compare_digest(secret.encode(), expected.encode())
        return ok


def client_address(request: Request) -> str:
    """The peer address of the request (what failed logins are counted by)."""
    return request.client.host if request.client else "unknown"


def set_session_cookie(response: Response, session: Session, settings: WebSettings) -> None:
    """Set the session cookie: HttpOnly, SameSite=Strict, Secure unless configured off."""
    response.set_cookie(
        COOKIE,
        session.id,
        max_age=max(1, int(session.expires - time.time())),
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/",
    )


def safe_next(target: str | None, default: str = "/orders") -> str:
    """Only a local path may be the target after login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
