"""The ``ordersyncd`` command.

Exit codes: 0 success; 1 the operation failed; 2 usage error; 69 the running daemon could not be reached;
75 another ordersyncd process holds the state directory; 78 the configuration is invalid.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import anyio
import click
import httpx
import tomli_w

from . import __version__
from .config import Config, default_config_path, load_config
from .errors import ConfigError, PluginError
from .journal import OrderState, open_journal
from .lock import StateLock, StateLocked
from .logs import configure_logging
from .output import emit_json, format_time, table
from .plugin_host import PluginSet, discover_plugins

__all__ = ["EXIT_CONFIG", "EXIT_LOCKED", "EXIT_UNAVAILABLE", "main"]

EXIT_FAILURE = 1
EXIT_UNAVAILABLE = 69
EXIT_LOCKED = 75
EXIT_CONFIG = 78


def _fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    click.echo(f"ordersyncd: {message}", err=True)
    sys.exit(code)


def _config_error(error: ConfigError) -> NoReturn:
    click.echo("ordersyncd: invalid configuration:", err=True)
    for problem in error.problems:
        click.echo(f"  {problem}", err=True)
    sys.exit(EXIT_CONFIG)


def _load(ctx: click.Context) -> Config:
    try:
        config = load_config(ctx.obj["config"])
    except ConfigError as error:
        _config_error(error)
    _log_to_stderr(config)
    return config


def _log_to_stderr(config: Config) -> None:
    """Commands other than ``run`` keep stdout for their output: logs go to stderr, secrets redacted."""
    configure_logging(config.log.level, config.log.format, config.secrets, stream=sys.stderr)


def _checked(ctx: click.Context) -> tuple[Config, PluginSet]:
    from .runtime import load_checked

    try:
        config, plugin_set = anyio.run(load_checked, ctx.obj["config"])
    except ConfigError as error:
        _config_error(error)
    _log_to_stderr(config)
    return config, plugin_set


class _Root(click.Group):
    """Also accepts ``ordersyncd <marketplace-plugin> merchants ...`` for every installed marketplace plugin."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        plugin = discover_plugins().get(cmd_name)
        if plugin is not None and plugin.kind == "marketplace" and "list_merchants" in plugin.hooks():
            return _plugin_group(cmd_name)
        return None


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ordersyncd")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="ORDERSYNCD_CONFIG",
    help=f"Main configuration file (default {default_config_path()}); conf.d/*.toml beside it are read too.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """ordersyncd keeps a web store and its marketplaces in step."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config_path


# ----------------------------------------------------------------------------------------------- run
@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon in the foreground (systemd: Type=notify). SIGTERM stops, SIGHUP reloads."""
    from .runtime import Daemon

    # Only the state directory is needed here (for the lock): the daemon loads the configuration itself, and a
    # second copy kept for the whole run cost about 27 KB per connection (135 MB at 5,000 connections).
    state_dir = _load(ctx).daemon.state_dir
    daemon = Daemon(ctx.obj["config"])
    try:
        with StateLock(state_dir):
            anyio.run(daemon.run)
    except ConfigError as error:
        _config_error(error)
    except StateLocked as error:
        _fail(str(error), EXIT_LOCKED)
    except OSError as error:
        _fail(str(error))


# ----------------------------------------------------------------------------------------------- check
@cli.command()
@click.option(
    "--online", is_flag=True, help="Also prove every credential with the cheapest authenticated call."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def check(ctx: click.Context, online: bool, as_json: bool) -> None:
    """Validate the configuration (and, with --online, the credentials). Exit 78 when invalid."""
    config, plugins = _checked(ctx)
    results: dict[str, Any] = {"files": [str(f) for f in config.files], "valid": True, "online": {}}
    if online:

        async def prove() -> dict[str, str]:
            answers: dict[str, str] = {}
            for kind, name, _ in plugins.all_instances():
                key = f"{kind}:{name}"
                try:
                    if plugins.implements_block(kind, name, "startup"):
                        await plugins.call_block(kind, name, "startup")
                    answers[key] = "ok: " + str(await plugins.call_block(kind, name, "check_credentials"))
                except PluginError as error:
                    answers[key] = f"FAILED: {type(error).__name__}: {error.message}"
                finally:
                    if plugins.implements_block(kind, name, "shutdown"):
                        await plugins.call_block(kind, name, "shutdown")
            return answers

        results["online"] = anyio.run(prove)
    failed = any(v.startswith("FAILED") for v in results["online"].values())
    if as_json:
        emit_json(results | {"credentials_ok": not failed})
    else:
        click.echo(f"configuration valid ({', '.join(results['files'])})")
        for key, answer in results["online"].items():
            click.echo(f"  {key}: {answer}")
    if failed:
        sys.exit(EXIT_FAILURE)


# ----------------------------------------------------------------------------------------------- plugins
@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List installed plugins: name, kind, distribution, version and the hooks each implements."""
    found = discover_plugins()
    rows = [
        {
            "name": p.name,
            "kind": p.kind,
            "distribution": p.distribution,
            "version": p.version,
            "hooks": p.hooks(),
            "error": p.error,
        }
        for p in sorted(found.values(), key=lambda p: p.name)
    ]
    if as_json:
        emit_json(rows)
        return
    click.echo(
        table(
            ["plugin", "kind", "distribution", "version", "hooks"],
            [
                [
                    r["name"],
                    r["kind"],
                    r["distribution"],
                    r["version"],
                    ", ".join(r["hooks"]) or f"BROKEN: {r['error']}",
                ]
                for r in rows
            ],
        )
    )


# ----------------------------------------------------------------------------------------------- daemon API
def _daemon(config: Config) -> tuple[str, str] | None:
    """The running daemon's base URL and API token (from the state directory), or ``None``."""
    state_dir = config.daemon.state_dir
    try:
        token = (state_dir / "api-token").read_text().strip()
        port = config.http.port or int((state_dir / "http-port").read_text())
    except (OSError, ValueError):
        return None
    host = config.http.listen
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}", token


def _api(config: Config, method: str, path: str) -> Any:
    daemon = _daemon(config)
    if daemon is None:
        _fail(
            f"the daemon is not running (no API token or port in {config.daemon.state_dir})", EXIT_UNAVAILABLE
        )
    base, token = daemon
    try:
        response = httpx.request(
            method, f"{base}{path}", timeout=10, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError as error:
        _fail(f"cannot reach the daemon at {base}: {type(error).__name__}", EXIT_UNAVAILABLE)
    if response.status_code == 401:
        _fail("the daemon refused the API token (is it using another state directory?)", EXIT_UNAVAILABLE)
    return response


@cli.command()
@click.argument("connections", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, connections: tuple[str, ...], as_json: bool) -> None:
    """Ask the running daemon how its connections' jobs are doing (all connections, or CONNECTIONS).

    Exits 1 when a connection shown is down (its last job run failed to reach a remote system)."""
    config = _load(ctx)
    response = _api(config, "GET", "/api/v1/status")
    if response.status_code != 200:
        _fail(f"HTTP {response.status_code} from the daemon")
    body = response.json()
    shown = body["connections"]
    unknown = [name for name in connections if name not in shown]
    if unknown:
        _fail(
            f"no active connection {', '.join(map(repr, unknown))} (known: {', '.join(sorted(shown)) or 'none'})"
        )
    if connections:
        shown = {name: shown[name] for name in connections}
    down = sorted(name for name, connection in shown.items() if connection["up"] is False)
    if as_json:
        emit_json({**body, "connections": shown})
    else:
        now = time.time()
        rows = []
        for name, connection in sorted(shown.items()):
            state = {True: "up", False: "DOWN", None: "starting"}[connection["up"]]
            for job, figures in connection["jobs"].items():
                rows.append(
                    [
                        name,
                        state,
                        job,
                        "yes" if figures["running"] else "",
                        _ago(figures["last_success"], now),
                        figures["runs"],
                        figures["failures"],
                        figures["last_error"],
                    ]
                )
        headers = ["connection", "state", "job", "running", "last success", "runs", "failures", "last error"]
        click.echo(table(headers, rows))
    if down:
        sys.exit(EXIT_FAILURE)


def _ago(stamp: float | None, now: float) -> str:
    """``never``, or how long ago ``stamp`` (Unix time) was, to the second: ``42 s ago``, ``3 min ago``…"""
    if stamp is None:
        return "never"
    seconds = max(0, round(now - stamp))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


@cli.command()
@click.argument("connection")
@click.option(
    "--once", is_flag=True, help="Run one cycle in this process instead of asking the running daemon."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def sync(ctx: click.Context, connection: str, once: bool, as_json: bool) -> None:
    """Synchronize CONNECTION now ("Synchronize Orders"): poll orders, advance them, poll shipments, push stock."""
    if not once:
        config = _load(ctx)
        response = _api(config, "POST", f"/api/v1/connections/{connection}/sync")
        body = response.json()
        if response.status_code != 202:
            _fail(body.get("error", f"HTTP {response.status_code}"))
        if as_json:
            emit_json(body)
        else:
            click.echo(f"{connection}: triggered {', '.join(body['triggered'])}")
        return
    config, plugin_set = _checked(ctx)
    if connection not in plugin_set.connections:
        _fail(f"no connection {connection!r} (known: {', '.join(sorted(plugin_set.connections)) or 'none'})")
    try:
        with StateLock(config.daemon.state_dir):
            result = anyio.run(_run_once, config, plugin_set, connection)
    except StateLocked as error:
        _fail(f"{error}; ask it with `ordersyncd sync {connection}` (without --once)", EXIT_LOCKED)
    if as_json:
        emit_json(result)
    else:
        click.echo(
            table(
                ["job", "result", "error"],
                [[j, "ok" if r["ok"] else "FAILED", r["error"]] for j, r in result["jobs"].items()],
            )
        )
    if not all(r["ok"] for r in result["jobs"].values()):
        sys.exit(EXIT_FAILURE)


async def _run_once(config: Config, plugin_set: PluginSet, name: str) -> dict[str, Any]:
    from .worker import ConnectionWorker

    plugins = plugin_set.connections[name]
    journal = open_journal(config.daemon.state_dir, config.daemon.sqlite_synchronous)
    await journal.open()
    started: list[tuple[str, str]] = []
    jobs: dict[str, Any] = {}
    try:
        for kind, block in (("marketplace", plugins.settings.marketplace), ("store", plugins.settings.store)):
            if plugin_set.implements_block(kind, block, "startup"):
                await plugin_set.call_block(kind, block, "startup")
            started.append((kind, block))
        worker = ConnectionWorker(plugins, journal)
        for job in ("poll_orders", "advance_orders", "poll_shipments", "sync_stock"):
            if job in worker.jobs:
                ok = await worker.run_job(job)
                jobs[job] = {"ok": ok, "error": worker.jobs[job].last_error}
    except PluginError as error:
        jobs["startup"] = {"ok": False, "error": f"{type(error).__name__}: {error.message}"}
    finally:
        for kind, block in started:
            if plugin_set.implements_block(kind, block, "shutdown"):
                await plugin_set.call_block(kind, block, "shutdown")
        await journal.close()
    return {"connection": name, "jobs": jobs}


# ----------------------------------------------------------------------------------------------- orders
@cli.group()
def orders() -> None:
    """Inspect and retry orders in the journal."""


def _journal_call(config: Config, fn: Any) -> Any:
    async def go() -> Any:
        journal = open_journal(config.daemon.state_dir, config.daemon.sqlite_synchronous)
        await journal.open()
        try:
            return await fn(journal)
        finally:
            await journal.close()

    return anyio.run(go)


@orders.command("list")
@click.option("--connection", "-c", help="Only this connection.")
@click.option(
    "--state", "-s", type=click.Choice([s.value for s in OrderState]), help="Only orders in this state."
)
@click.option("--search", "text", default="", help="Text in the order id, number or store order number.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--offset", default=0, type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def orders_list(
    ctx: click.Context,
    connection: str | None,
    state: str | None,
    text: str,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List orders, newest first."""
    config = _load(ctx)
    records, total = _journal_call(
        config,
        lambda j: j.list_orders(
            connection=connection,
            state=OrderState(state) if state else None,
            text=text,
            limit=limit,
            offset=offset,
        ),
    )
    if as_json:
        emit_json({"total": total, "orders": [r.summary() for r in records]})
        return
    click.echo(
        table(
            ["connection", "order id", "number", "state", "store order", "received", "note"],
            [
                [
                    r.connection,
                    r.order_id,
                    r.number,
                    r.state.value,
                    r.store_order_number,
                    format_time(r.received_at),
                    r.reason or r.last_error,
                ]
                for r in records
            ],
        )
    )
    click.echo(f"{len(records)} of {total} orders")


def _find(config: Config, order_id: str, connection: str | None) -> tuple[str, str]:
    records, _ = _journal_call(
        config, lambda j: j.list_orders(connection=connection, text=order_id, limit=1000)
    )
    exact = [r for r in records if r.order_id == order_id]
    if not exact:
        _fail(f"no order {order_id!r}" + (f" in connection {connection!r}" if connection else ""))
    if len(exact) > 1:
        _fail(
            f"order id {order_id!r} exists in several connections "
            f"({', '.join(r.connection for r in exact)}); name one with --connection"
        )
    return exact[0].connection, exact[0].order_id


@orders.command("show")
@click.argument("order_id")
@click.option("--connection", "-c", help="The connection, when the id exists in several.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def orders_show(ctx: click.Context, order_id: str, connection: str | None, as_json: bool) -> None:
    """Show one order: state, store order, shipments and its full communication history."""
    config = _load(ctx)
    conn, oid = _find(config, order_id, connection)

    async def fetch(journal: Any) -> tuple[Any, Any, Any]:
        return (
            await journal.get_order(conn, oid),
            await journal.history(conn, oid),
            await journal.shipments(connection=conn, order_id=oid),
        )

    record, history, shipments = _journal_call(config, fetch)
    data = record.summary() | {
        "order": record.order.model_dump(mode="json") if record.order else None,
        "shipments": [
            {
                "shipment_id": s.shipment_id,
                "state": s.state.value,
                "missing": list(s.missing),
                "carrier": s.shipment.carrier,
                "tracking_code": s.shipment.tracking_code,
                "return_tracking_code": s.shipment.return_tracking_code,
            }
            for s in shipments
        ],
        "history": [
            {
                "at": e.at,
                "kind": e.kind,
                "direction": e.direction,
                "system": e.system,
                "detail": e.detail,
                "outcome": e.outcome,
            }
            for e in history
        ],
    }
    if as_json:
        emit_json(data)
        return
    click.echo(f"order {oid} ({record.number}) in connection {conn}: {record.state.value}")
    if record.store_order_number:
        click.echo(f"store order: {record.store_order_number} (id {record.store_order_id})")
    if record.reason:
        click.echo(f"needs attention because: {record.reason}")
    if record.last_error:
        click.echo(f"last error: {record.last_error} (attempt {record.attempts})")
    for s in data["shipments"]:
        click.echo(
            f"shipment {s['shipment_id']}: {s['state']} carrier={s['carrier'] or '-'} "
            f"tracking={s['tracking_code'] or '-'} return={s['return_tracking_code'] or '-'}"
            + (f" missing={','.join(s['missing'])}" if s["missing"] else "")
        )
    click.echo("history:")
    click.echo(
        table(
            ["time", "kind", "dir", "system", "detail"],
            [
                [format_time(e["at"]), e["kind"], e["direction"], e["system"], e["detail"]]
                for e in data["history"]
            ],
        )
    )


@orders.command("retry")
@click.argument("order_id")
@click.option("--connection", "-c", help="The connection, when the id exists in several.")
@click.pass_context
def orders_retry(ctx: click.Context, order_id: str, connection: str | None) -> None:
    """Send a needs_attention order back into the pipeline (after fixing its cause)."""
    config = _load(ctx)
    conn, oid = _find(config, order_id, connection)
    from .errors import IllegalTransition

    try:
        record = _journal_call(config, lambda j: j.retry_order(conn, oid, time.time()))
    except IllegalTransition as error:
        _fail(str(error))
    click.echo(f"order {oid} in {conn}: back to {record.state.value}")
    _wake(config, conn)


def _wake(config: Config, connection: str) -> None:
    """Ask a running daemon to process the connection now; without one the next cycle picks the change up."""
    daemon = _daemon(config)
    woken = False
    if daemon is not None:
        base, token = daemon
        try:
            response = httpx.post(
                f"{base}/api/v1/connections/{connection}/sync",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
            woken = response.status_code == 202
        except httpx.HTTPError:
            woken = False
    if woken:
        click.echo("the running daemon was asked to process it now")
    else:
        click.echo("no running daemon reached; the change is processed at its next cycle")


# ----------------------------------------------------------------------------------------------- stock
@cli.group()
def stock() -> None:
    """Stock from the store to the marketplaces."""


@stock.command("push")
@click.argument("connection")
@click.option(
    "--full", is_flag=True, help="Send every product, not only what changed since the last accepted push."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def stock_push(ctx: click.Context, connection: str, full: bool, as_json: bool) -> None:
    """Ask the running daemon to push CONNECTION's stock now."""
    config = _load(ctx)
    response = _api(config, "POST", f"/api/v1/connections/{connection}/stock" + ("?full=1" if full else ""))
    body = response.json()
    if response.status_code != 202:
        _fail(body.get("error", f"HTTP {response.status_code}"))
    if as_json:
        emit_json(body)
    else:
        click.echo(f"{connection}: {'full ' if full else ''}stock push started")


@stock.command("status")
@click.argument("connection")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def stock_status(ctx: click.Context, connection: str, as_json: bool) -> None:
    """Per-product outcome of CONNECTION's stock pushes: counts, and every item not accepted with its reason."""
    config = _load(ctx)
    settings = config.connections.get(connection)
    if settings is None:
        _fail(f"no connection {connection!r} (known: {', '.join(sorted(config.connections)) or 'none'})")
    account = settings.marketplace

    async def fetch(journal: Any) -> tuple[Any, Any]:
        return await journal.stock_summary(account), await journal.stock_problems(account)

    summary, problems = _journal_call(config, fetch)
    items = [
        {
            "product": p.product,
            "sku": p.sku,
            "ean": p.ean,
            "quantity": p.quantity,
            "status": p.status,
            "reason": p.reason,
            "attempts": p.attempts,
            "next_attempt_at": p.next_attempt_at or None,
            "accepted_quantity": p.accepted_quantity,
        }
        for p in problems
    ]
    if as_json:
        emit_json({"connection": connection, "account": account, "summary": summary, "problems": items})
        return
    click.echo(
        f"{connection} (account {account}): "
        + (", ".join(f"{n} {s}" for s, n in sorted(summary.items())) or "nothing pushed yet")
    )
    if items:
        click.echo(
            table(
                ["product", "status", "quantity", "attempts", "reason"],
                [[i["product"], i["status"], i["quantity"], i["attempts"], i["reason"]] for i in items],
            )
        )


# ----------------------------------------------------------------------------------------------- merchants
def _plugin_group(plugin_name: str) -> click.Group:
    @click.group(name=plugin_name, help=f"Commands of the {plugin_name} marketplace plugin.")
    def group() -> None:
        pass

    @group.command("merchants")
    @click.argument("account")
    @click.option("--select", "select", metavar="ID", help="Write this merchant id into a conf.d/ drop-in.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.pass_context
    def merchants(ctx: click.Context, account: str, select: str | None, as_json: bool) -> None:
        """List the merchant accounts the credentials of ACCOUNT may act for ("Get Available Merchants")."""
        config, plugin_set = _checked(ctx)
        block = config.marketplaces.get(account)
        if block is None or block.plugin != plugin_name:
            _fail(f"no {plugin_name} marketplace account {account!r} in the configuration")

        async def listing() -> list[Any]:
            if plugin_set.implements_block("marketplace", account, "startup"):
                await plugin_set.call_block("marketplace", account, "startup")
            try:
                return list(await plugin_set.call_block("marketplace", account, "list_merchants"))
            finally:
                if plugin_set.implements_block("marketplace", account, "shutdown"):
                    await plugin_set.call_block("marketplace", account, "shutdown")

        try:
            merchants_found = anyio.run(listing)
        except PluginError as error:
            _fail(f"{type(error).__name__}: {error.message}")
        if select is None:
            if as_json:
                emit_json([m.model_dump(mode="json") for m in merchants_found])
            else:
                click.echo(
                    table(
                        ["merchant id", "name", "live", "sales channels"],
                        [
                            [m.merchant_id, m.name, "yes" if m.live else "no", ", ".join(m.sales_channels)]
                            for m in merchants_found
                        ],
                    )
                )
            return
        chosen = next((m for m in merchants_found if m.merchant_id == select), None)
        if chosen is None:
            _fail(
                f"merchant {select!r} is not one these credentials may act for "
                f"(available: {', '.join(m.merchant_id for m in merchants_found) or 'none'})"
            )
        settings = anyio.run(
            lambda: plugin_set.call_block("marketplace", account, "merchant_settings", merchant=chosen)
        )
        path = write_dropin(config, account, dict(settings))
        click.echo(
            f"wrote {path}; run `ordersyncd check`, then reload the daemon (systemctl reload ordersyncd)"
        )

    return group


def write_dropin(config: Config, account: str, settings: dict[str, Any]) -> Path:
    """Write ``settings`` for marketplace ``account`` into a drop-in owned by ordersyncd (never a person's file)."""
    main_file = config.files[0]
    dropins = main_file.parent / "conf.d"
    dropins.mkdir(parents=True, exist_ok=True)
    path = dropins / f"50-ordersyncd-{account}-merchant.toml"
    header = (
        "# Written by `ordersyncd <plugin> merchants --select`. Running the command again replaces this file;\n"
        "# edit the main configuration instead of this file if you want to manage these keys by hand.\n"
    )
    body = tomli_w.dumps({"marketplaces": {account: settings}})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(header + body)
    tmp.replace(path)
    return path


# ----------------------------------------------------------------------------------------------- shipments
@cli.group()
def shipments() -> None:
    """Shipments held because a tracking code is missing: list them, enter the codes."""


@shipments.command("missing")
@click.option("--connection", "-c", help="Only this connection.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def shipments_missing(ctx: click.Context, connection: str | None, as_json: bool) -> None:
    """List the shipments waiting for a tracking code (the Order Shipments page)."""
    from .journal import ShipmentState

    config = _load(ctx)

    async def fetch(journal: Any) -> list[tuple[Any, Any]]:
        held = await journal.shipments(connection=connection, state=ShipmentState.HELD)
        return [(s, await journal.get_order(s.connection, s.order_id)) for s in held]

    rows = [
        {
            "connection": s.connection,
            "order_id": s.order_id,
            "number": order.number if order is not None else "",
            "shipment_id": s.shipment_id,
            "missing": list(s.missing),
            "carrier": s.shipment.carrier,
            "tracking_code": s.shipment.tracking_code,
            "return_tracking_code": s.shipment.return_tracking_code,
            "held_since": s.held_since,
        }
        for s, order in _journal_call(config, fetch)
    ]
    if as_json:
        emit_json(rows)
        return
    click.echo(
        table(
            [
                "connection",
                "order id",
                "number",
                "shipment",
                "missing",
                "carrier",
                "tracking",
                "return",
                "held since",
            ],
            [
                [
                    r["connection"],
                    r["order_id"],
                    r["number"],
                    r["shipment_id"],
                    ",".join(r["missing"]),
                    r["carrier"] or "-",
                    r["tracking_code"] or "-",
                    r["return_tracking_code"] or "-",
                    format_time(r["held_since"]),
                ]
                for r in rows
            ],
        )
    )
    click.echo(f"{len(rows)} shipment(s) waiting for codes")


@shipments.command("set-codes")
@click.argument("order_id")
@click.option("--tracking", default="", help="The shipping tracking code.")
@click.option("--return-tracking", "return_tracking", default="", help="The return tracking code.")
@click.option("--carrier", default="", help="The carrier (keeps the store's when not given).")
@click.option("--connection", "-c", help="The connection, when the id exists in several.")
@click.option("--shipment", "shipment_id", help="The shipment, when the order has several held ones.")
@click.pass_context
def shipments_set_codes(
    ctx: click.Context,
    order_id: str,
    tracking: str,
    return_tracking: str,
    carrier: str,
    connection: str | None,
    shipment_id: str | None,
) -> None:
    """Enter the missing codes of ORDER's held shipment; the running daemon sends it right away."""
    from .alerts.codes import check_codes
    from .alerts.conditions import missing_text
    from .errors import IllegalTransition
    from .journal import ShipmentState

    config = _load(ctx)
    conn, oid = _find(config, order_id, connection)
    held = [
        s
        for s in _journal_call(
            config, lambda j: j.shipments(connection=conn, order_id=oid, state=ShipmentState.HELD)
        )
        if shipment_id is None or s.shipment_id == shipment_id
    ]
    if not held:
        _fail(
            f"order {oid} in {conn} has no shipment waiting for codes"
            + (f" with id {shipment_id!r}" if shipment_id else "")
        )
    if len(held) > 1:
        _fail(
            f"order {oid} has several held shipments ({', '.join(s.shipment_id for s in held)}); name one with --shipment",
            2,
        )
    shipment = held[0]
    entered, errors = check_codes(
        tracking,
        return_tracking,
        carrier,
        missing=shipment.missing,
        current_tracking=shipment.shipment.tracking_code,
    )
    if entered is None:
        _fail(" ".join(errors), 2)
    try:
        _journal_call(
            config,
            lambda j: j.set_shipment_codes(
                conn,
                shipment.shipment_id,
                time.time(),
                tracking_code=entered.tracking_code or None,
                return_tracking_code=entered.return_tracking_code or None,
                carrier=entered.carrier or None,
            ),
        )
    except (KeyError, IllegalTransition) as error:
        _fail(str(error).strip("'\""))
    click.echo(f"order {oid} in {conn}: codes saved for shipment {shipment.shipment_id}")
    if entered.still_missing:
        click.echo(f"still missing: {missing_text(entered.still_missing)} (the shipment stays held)")
    _wake(config, conn)


def main() -> None:
    configure_logging("warning", "auto", stream=sys.stderr)
    cli(obj={})


if __name__ == "__main__":
    main()
