"""Rendering of benchmark results: the console table and ``RESULTS.md``."""

from __future__ import annotations

from typing import Any

__all__ = ["render_markdown", "render_table", "summary_rows"]


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.0f} MiB"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def _verdict(met: Any) -> str:
    return "met" if met else "MISSED"


def summary_rows(document: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(benchmark, figure, target, verdict) rows."""
    b = document["benchmarks"]
    rows: list[tuple[str, str, str, str]] = []
    for name, figures in b.items():
        if "error" in figures:
            rows.append((name, f"ERROR {figures['error']}", "", "MISSED"))
    if "throughput" in b and "error" not in b["throughput"]:
        t = b["throughput"]
        figure = (
            f"{t['ordersyncd']['orders_per_second']:.1f} vs naive {t['naive']['orders_per_second']:.1f} orders/s "
            f"= {t['ratio']:.2f}x; end state {'identical' if t['end_state_identical'] else 'DIFFERENT'}"
        )
        rows.append(("1 throughput vs naive", figure, t["target"] + "x, identical", _verdict(t["met"])))
    if "rate_limits" in b and "error" not in b["rate_limits"]:
        for c in b["rate_limits"]["connections"]:
            figure = f"{c['efficiency']:.3f} of bound, {_pct(c['limited_share'])} limited answers"
            rows.append((f"2 rate limits ({c['name']})", figure, ">= 0.90, < 1%", _verdict(c["met"])))
    if "calls_per_order" in b and "error" not in b["calls_per_order"]:
        c = b["calls_per_order"]
        figure = (
            f"{c['measured_total']:.2f} calls/order vs minimum {c['minimum_total']:.2f} = {c['ratio']:.2f}x"
        )
        rows.append(("3 calls per order", figure, "<= 1.1x", _verdict(c["met"])))
    if "scale" in b and "error" not in b["scale"]:
        for r in b["scale"]["runs"]:
            if r["aborted"]:
                figure = f"aborted: {r['aborted']}; RSS reached {_mb(r['peak_rss'])}"
            else:
                figure = (
                    f"RSS {_mb(max(r['peak_rss'], r.get('peak_rss_scraped', 0)))}, CPU {_pct(r['cpu_share'])}, "
                    f"lag p50 {_s(r['lag_p50'])} p99 {_s(r['lag_p99'])}"
                )
            target = "< 500 MB (477 MiB), < 25%, p99 < 1 s"
            rows.append((f"4 scale {r['connections']} connections", figure, target, _verdict(r["met"])))
    if "cpu_per_order" in b and "error" not in b["cpu_per_order"]:
        c = b["cpu_per_order"]
        rows.append(("5 CPU per order", f"{c['ms_per_order']:.2f} ms", "<= 2 ms", _verdict(c["met"])))
    return rows


def render_table(document: dict[str, Any]) -> str:
    """A fixed-width table for the console."""
    rows = [("benchmark", "figure", "target", "verdict"), *summary_rows(document)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _calls_table(calls: dict[str, dict[str, dict[str, int]]]) -> list[str]:
    lines = ["| system | endpoint | answers |", "|---|---|---|"]
    for system, endpoints in calls.items():
        for endpoint, statuses in endpoints.items():
            answers = ", ".join(f"{status}: {count}" for status, count in statuses.items())
            lines.append(f"| {system} | `{endpoint}` | {answers} |")
    return lines


def _section_throughput(t: dict[str, Any]) -> list[str]:
    out = [
        "## 1. Throughput against a naive sequential script",
        "",
        _command(t),
        "",
        f"{t['orders']} Zalando orders imported into the Shopify simulator, {t['latency_seconds'] * 1000:.0f} ms "
        "added to every API request, rate limits off (benchmark 2 measures those). Time from the moment the "
        "orders exist (the daemon is told to synchronize) to the last export; the naive script's time is its "
        "whole run (token, poll, then create + export order after order).",
        "",
        "| | seconds | orders/s |",
        "|---|---|---|",
        f"| naive script (`bench/naive_sync.py`) | {t['naive']['seconds']:.1f} | {t['naive']['orders_per_second']:.2f} |",
        f"| ordersyncd, default intervals | {t['ordersyncd']['seconds']:.1f} | "
        f"{t['ordersyncd']['orders_per_second']:.2f} |",
        f"| ordersyncd, advance_orders every 1 s | {t['ordersyncd_advance_every_1s']['seconds']:.1f} | "
        f"{t['ordersyncd_advance_every_1s']['orders_per_second']:.2f} "
        f"({t['ordersyncd_advance_every_1s']['ratio']:.2f}x) |",
        "",
        "With the default intervals one run of advance_orders takes at most 500 due orders; the rest wait for "
        "the next run (30 s later). The second daemon row shortens that wait to show the per-connection "
        "concurrency (4 orders in flight, create then export) alone.",
        "",
        f"**Ratio {t['ratio']:.2f}x** (target {t['target']}x): **{_verdict(t['met'])}**. End state "
        f"{'identical' if t['end_state_identical'] else 'DIFFERENT: ' + '; '.join(t['differences'])} (per Zalando "
        "order: exported, one Shopify order with the same SKUs and quantities, paid, and the exported "
        "merchant_order_id is that Shopify order's number).",
        "",
        "Calls of the naive script:",
        "",
        *_calls_table(t["naive"]["calls"]),
        "",
        "Calls of ordersyncd:",
        "",
        *_calls_table(t["ordersyncd"]["calls"]),
        "",
    ]
    return out


def _section_limits(r: dict[str, Any]) -> list[str]:
    out = [
        "## 2. Rate-limit efficiency",
        "",
        _command(r),
        "",
        f"One daemon, two connections, {r['window_seconds']:.1f} s window, each connection with a backlog "
        "larger than the window can drain (see `bench/ratelimit.py`).",
        "",
        "| connection | binding limit | achieved | bound | efficiency | limited answers | requests | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in r["connections"]:
        unit = "points" if c["name"].startswith("shopify") else "PATCH"
        out.append(
            f"| {c['name']} | {c['limit']} | {c['achieved']:.0f} {unit} | {c['bound']:.0f} {unit} | "
            f"{c['efficiency']:.3f} | {c['limited_answers']} ({_pct(c['limited_share'])}) | {c['requests']} | "
            f"{_verdict(c['met'])} |"
        )
    out += ["", f"Target: {r['target']}.", ""]
    return out


def _section_calls(c: dict[str, Any]) -> list[str]:
    out = [
        "## 3. Calls per order",
        "",
        _command(c),
        "",
        f"{c['orders']} orders imported, exported, fulfilled in Shopify and reported back (no added latency, no "
        f"limits); {c['unit_lines_per_order']:.2f} Zalando unit lines per order, {c['distinct_skus']} distinct "
        "SKUs. Counted by endpoint in the simulators.",
        "",
        "| measured (per order) | calls |",
        "|---|---|",
        *[f"| `{k}` | {v:.3f} |" for k, v in c["measured_per_order"].items()],
        f"| **total** | **{c['measured_total']:.3f}** |",
        "",
        "| minimum the APIs allow (per order) | calls |",
        "|---|---|",
        *[f"| {k} | {v:.3f} |" for k, v in c["minimum_per_order"].items()],
        f"| **total** | **{c['minimum_total']:.3f}** |",
        "",
        f"**Ratio {c['ratio']:.2f}x** (target {c['target']}): **{_verdict(c['met'])}**.",
        "",
        "Not counted per order (stock sync and authentication, which run whatever the orders): "
        + (", ".join(f"`{k}` {v}" for k, v in c["not_counted_calls"].items()) or "none"),
        "",
    ]
    return out


def _section_scale(s: dict[str, Any]) -> list[str]:
    out = [
        "## 4. Scale",
        "",
        _command(s),
        "",
        "| connections | interval | start-up | measured | peak RSS | peak RSS after a scrape | one scrape: wall, "
        "daemon CPU | daemon CPU | lag p50 | lag p99 | lag max ≤ | runs | simulators' CPU | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in s["runs"]:
        if r["aborted"]:
            out.append(
                f"| {r['connections']} | {r['interval']:.0f} s | aborted after {r['startup_seconds']:.0f} s: "
                f"{r['aborted']} | — | ≥ {_mb(r['peak_rss'])} | — | — | not measured | — | — | — | — | — | MISSED |"
            )
            continue
        out.append(
            f"| {r['connections']} | {r['interval']:.0f} s | {r['startup_seconds']:.0f} s | "
            f"{r['measured_seconds']:.0f} s | {_mb(r['peak_rss'])} | {_mb(r.get('peak_rss_scraped'))} | "
            f"{_s(r.get('scrape_seconds'))}, {_s(r.get('scrape_cpu'))} | "
            f"{_pct(r['cpu_share'])} | {_s(r['lag_p50'])} | "
            f"{_s(r['lag_p99'])} | {'> 60 s' if r['lag_max'] is None else _s(r['lag_max'])} | {r['lag_samples']} | {_pct(r['sim_cpu_share'])} | "
            f"{_verdict(r['met'])} |"
        )
    out += [
        "",
        f"Target: {s['target']}. CPU is the daemon's CPU seconds ÷ wall seconds over the measuring window "
        "(after start-up and a warm-up). Peak RSS is the process's high-water mark at the end of that window, and "
        "again after one scrape of `/metrics` (Prometheus scrapes a daemon in production; the verdict takes the "
        "larger). Lag is how late each scheduled `poll_orders` run started after it was due, since start, read from "
        "the daemon's `ordersyncd_job_start_lag_seconds` histogram: quantiles interpolated within buckets, the "
        "largest as the bound of its bucket.",
        "",
    ]
    return out


def _command(figures: dict[str, Any]) -> str:
    when = figures.get("measured_at")
    return f"Command: `{figures['command']}`" + (f" (measured {when})" if when else "")


def _section_cpu(c: dict[str, Any]) -> list[str]:
    out = [
        "## 5. CPU per order",
        "",
        _command(c),
        "",
        f"Daemon CPU {c['daemon_cpu_seconds']:.2f} s (user + system, all threads) for {c['orders']} orders "
        f"imported, exported and shipped (import {c['import_seconds']:.1f} s, shipping "
        f"{c['ship_seconds']:.1f} s, no added latency): **{c['ms_per_order']:.2f} ms per order** (target "
        f"{c['target']}): **{_verdict(c['met'])}**. Of it, import + export: {c['daemon_cpu_seconds_import']:.2f} s.",
        "",
    ]
    floor = c.get("http_floor")
    if floor:
        out += [
            "Yardstick (`bench/http_floor.py`): one request costs the daemon's HTTP client "
            f"**{floor['daemon_client_ms_per_request']:.3f} ms** of CPU, httpx's default client "
            f"{floor['httpx_default_ms_per_request']:.3f} ms (side by side, median of {floor['rounds']} alternating "
            f"rounds, {floor['requests']} requests each, against a local keep-alive server answering at once). The "
            f"flow made {floor['requests_per_order']:.2f} requests per order (every remote call, stock and "
            f"authentication included), so HTTP alone costs at least **{floor['floor_ms_per_order']:.2f} ms per "
            "order** on this stack, before any journal, model or scheduling work.",
            "",
        ]
    profile = c.get("profile")
    if profile and profile.get("samples"):
        out += [
            f"Profile: {profile['tool']}; {profile['samples']} samples; "
            f"{profile['ms_per_order_while_profiled']:.2f} ms per order while profiled.",
            "",
            "Share of samples with the function on the stack (project code):",
            "",
            "| function | share |",
            "|---|---|",
            *[f"| `{name}` | {share * 100:.1f}% |" for name, share in profile["top_inclusive_project"]],
            "",
            "Share of samples with the function on the stack (everything):",
            "",
            "| function | share |",
            "|---|---|",
            *[f"| `{name}` | {share * 100:.1f}% |" for name, share in profile["top_inclusive_all"]],
            "",
            "Self time (innermost frame):",
            "",
            "| function | share |",
            "|---|---|",
            *[f"| `{name}` | {share * 100:.1f}% |" for name, share in profile["top_self"]],
            "",
        ]
    return out


def render_markdown(document: dict[str, Any]) -> str:
    """``RESULTS.md``: machine, summary, then each benchmark with the command that produced it."""
    m = document["machine"]
    b = document["benchmarks"]
    lines = [
        "# Benchmark results",
        "",
        f"Produced by `{document['command']}` ({document['mode']} sizes) on {document['started_at']}, "
        f"{document['duration_seconds']:.0f} s."
        + (
            ""
            if all(f.get("measured_at") == document["started_at"] for f in b.values())
            else " Benchmarks this run did not measure keep the figures of an earlier run: each section says "
            "when it was measured."
        ),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores (shared with other work), {m['memory_gib']} GiB, {m['os']}, "
        f"Python {m['python']}; load average at start {m['load_average_at_start']}. The simulators and the daemon "
        "are separate processes on the same machine; ratios are measured side by side in this run, absolute times "
        "are context only.",
        "",
    ]
    if document["mode"] == "quick":
        lines += ["**Quick (smoke) run: small sizes, figures not comparable with the targets.**", ""]
    lines += ["| benchmark | figure | target | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b_} | {c} | {d} |" for a, b_, c, d in summary_rows(document)]
    lines.append("")
    sections = {
        "throughput": _section_throughput,
        "rate_limits": _section_limits,
        "calls_per_order": _section_calls,
        "scale": _section_scale,
        "cpu_per_order": _section_cpu,
    }
    for name, render in sections.items():
        if name in b and "error" not in b[name]:
            lines += render(b[name])
        elif name in b:
            lines += [f"## {name}", "", f"Failed to run: {b[name]['error']}", ""]
    return "\n".join(lines) + "\n"
