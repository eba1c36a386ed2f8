"""The daemon's HTTP listener: ``/metrics``, ``/healthz``, ``/readyz``, the local JSON API and the admin pages
(login, orders, order details, Order Shipments; see ``docs/alerts-and-pages.md``)."""

from .app import create_app

__all__ = ["create_app"]
