"""The daemon's HTTP listener: ``/metrics``, ``/healthz``, ``/readyz`` and the local JSON API (pages follow)."""

from .app import create_app

__all__ = ["create_app"]
