"""The daemon configuration a benchmark runs with: N connections, each with its own Zalando account and
Shopify store block (as N merchants would have), pointed at the simulator hosts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from simhost import TOKEN

__all__ = ["connection_names", "write_config"]

CLIENT_ID = "sim-client"
CLIENT_SECRET = "sim-secret"  # noqa: S105 - the simulator's credential
MERCHANT = "6f1c6a2e-2f7a-4c52-9d0e-1b1a2c3d4e5f"


def connection_names(count: int) -> list[str]:
    """``zalando-shop`` for one connection, ``c00001``… for many."""
    return ["zalando-shop"] if count == 1 else [f"c{n:05d}" for n in range(1, count + 1)]


def write_config(
    workdir: Path,
    zalando_url: str,
    shopify_url: str,
    *,
    connections: int = 1,
    intervals: Mapping[str, str] | None = None,
    log_level: str = "info",
    endpoints: list[tuple[str, str]] | None = None,
    modes: list[str] | None = None,
) -> Path:
    """Write ``workdir/ordersyncd.toml`` (and the secret files) and return its path.

    ``endpoints``: (Zalando URL, Shopify URL) per connection, instead of the same two for every one.
    ``modes``: the Zalando account's ``mode`` per connection (``production`` by default): the plugin paces its
    requests to the documented quotas of that mode.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "zalando.secret").write_text(CLIENT_SECRET)
    (workdir / "shopify.token").write_text(TOKEN)
    every = {
        "poll_orders": "1h",
        "advance_orders": "1h",
        "poll_shipments": "1h",
        "sync_stock": "1h",
        "reconcile": "1h",
        **(intervals or {}),
    }
    parts = [
        f'[daemon]\nstate_dir = "{workdir / "state"}"\nsqlite_synchronous = "full"\n',
        f'[log]\nformat = "json"\nlevel = "{log_level}"\n',
        "[http]\nport = 0\n",
    ]
    for index, name in enumerate(connection_names(connections)):
        zalando, shopify = endpoints[index] if endpoints else (zalando_url, shopify_url)
        mode = modes[index] if modes else "production"
        parts.append(f"""
[marketplaces.{name}-z]
plugin = "zalando"
client_id = "{CLIENT_ID}"
client_secret_file = "{workdir / "zalando.secret"}"
mode = "{mode}"
merchant_id = "{MERCHANT}"
base_url = "{zalando}"
shipping_gap_seconds = 0

[stores.{name}-s]
plugin = "shopify"
shop_domain = "{name}.myshopify.com"
base_url = "{shopify}"
access_token_file = "{workdir / "shopify.token"}"

[connections.{name}]
marketplace = "{name}-z"
store = "{name}-s"
backoff_initial = "1s"
backoff_max = "5s"
[connections.{name}.intervals]
""")
        parts.append("".join(f'{job} = "{value}"\n' for job, value in every.items()))
    path = workdir / "ordersyncd.toml"
    path.write_text("\n".join(parts))
    return path
