"""Page password hashes: scrypt (``hashlib.scrypt``), stored as ``scrypt$N$r$p$SALT$HASH`` (base64).

Make one for ``[web] password_hash`` with ``python -m ordersyncd.web.passwords`` (asks twice, prints the hash).
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import secrets
import sys

__all__ = ["hash_password", "parse_hash", "verify_password"]

_N, _R, _P = 2**14, 8, 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, *, n: int = _N, r: int = _R, p: int = _P) -> str:
    """A new salted scrypt hash of ``password``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=2**27)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def parse_hash(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """Split a stored hash; raises ``ValueError`` with a reason (never the hash) when it is malformed."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError(
            "must be a hash made by `python -m ordersyncd.web.passwords` (scrypt$N$r$p$salt$hash)"
        )
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise ValueError("malformed scrypt hash (parameters or base64)") from None
    if n < 2**10 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or len(salt) < 8 or len(digest) < 16:
        raise ValueError("scrypt parameters out of range")
    return n, r, p, salt, digest


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches the stored hash (constant-time comparison)."""
    try:
        n, r, p, salt, digest = parse_hash(encoded)
    except ValueError:
        return False
    candidate = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(digest), maxmem=2**27)
    return hmac.compare_digest(candidate, digest)


def main() -> None:
    """Ask for a password twice and print its hash for ``[web] password_hash``."""
    first = getpass.getpass("page password: ")
    if len(first) < 10:
        sys.exit("use at least 10 characters")
    if getpass.getpass("again: ") != first:
        sys.exit("the two entries differ")
    print(hash_password(first))


if __name__ == "__main__":
    main()
