"""Sending one e-mail with aiosmtplib: implicit TLS or STARTTLS, optional login."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from .settings import SmtpSettings

__all__ = ["DELIVERY_ERRORS", "send_mail"]

#: What a failed delivery raises (the SMTP server unreachable, refusing, or timing out).
DELIVERY_ERRORS: tuple[type[BaseException], ...] = (aiosmtplib.SMTPException, OSError, TimeoutError)


async def send_mail(settings: SmtpSettings, message: EmailMessage) -> None:
    """Hand ``message`` to the SMTP server; returns when the server has accepted it for every recipient."""
    await aiosmtplib.send(
        message,
        hostname=settings.host,
        port=settings.effective_port,
        use_tls=settings.security == "tls",
        start_tls=settings.security == "starttls",
        username=settings.username or None,
        password=settings.password.reveal() if settings.password is not None else None,
        timeout=settings.timeout,
        cert_bundle=settings.ca_bundle or None,
    )
