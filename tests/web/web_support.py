"""The page tests share the alert tests' helpers (a real SMTP server, seeded journal orders)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "alerts"))

from alerts_support import SmtpSink, free_port, make_order, parts, seed_order

__all__ = ["SmtpSink", "free_port", "make_order", "parts", "seed_order"]
