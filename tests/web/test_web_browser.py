"""End to end with a real browser (Debian's chromium driven by Playwright): the daemon holds a shipment whose
return code is missing and e-mails a real SMTP server; a restart sends nothing twice; a person follows the
link from the e-mail, logs in, enters the code; the marketplace then has both codes. Screenshots of each page
go to the test's output folder."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright
from web_support import SmtpSink, free_port, parts

from ordersyncd.web.passwords import hash_password

from support import DaemonProcess, run_cli, wait_for, write_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "page password for the browser test"

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed")


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    assert (folder / f"{name}.png").stat().st_size > 1000


def test_browser_follows_the_email_link_and_enters_the_missing_return_code(
    fake_backend: Any, tmp_path: Path, output_dir: Path
):
    (order_id,) = fake_backend.world.generate(1, seed=5)
    sink = SmtpSink().start()
    port = free_port()
    extra = f"""
[smtp]
host = "127.0.0.1"
port = {sink.port}
security = "none"
sender = "ordersyncd@shop.example"

[alerts]
recipients = ["ops@shop.example"]
check_interval = "1s"

[web]
password_hash = "{hash_password(PASSWORD, n=2**12)}"
cookie_secure = false   # plain http on loopback in this test
"""
    config = write_config(tmp_path / "d", fake_backend.base_url, extra=extra)
    config.write_text(config.read_text().replace("port = 0", f"port = {port}", 1))
    base = f"http://127.0.0.1:{port}"
    daemon = DaemonProcess(config).start()
    try:
        daemon.wait_ready()
        wait_for(lambda: fake_backend.world.state()["acks"].get(order_id), what="order acknowledged")
        # The store ships with one tracking number only: the return code is missing.
        httpx.post(
            f"{fake_backend.base_url}/_control/ship",
            json={"order_id": order_id, "tracking_numbers": ["TRACK1"]},
        )
        wait_for(lambda: sink.received(), timeout=20, what="the alert e-mail")
        (message,) = sink.received()
        text, html = parts(message)
        assert message["To"] == "ops@shop.example" and "return tracking code missing" in str(
            message["Subject"]
        )
        link = f"{base}/shipments?connection=fake&order={order_id}"
        assert re.findall(r"http://\S+", text) == [link]
        assert "SKU-" in text and "DHL" in text and link.replace("&", "&amp;") in html
        missing = json.loads(run_cli(config, "shipments", "missing", "--json").stdout)
        assert [(m["order_id"], m["missing"]) for m in missing] == [(order_id, ["return_tracking_code"])]
        shipment_id = missing[0]["shipment_id"]

        # A restart in between sends nothing twice.
        assert daemon.stop() == 0
        daemon = DaemonProcess(config).start().wait_ready()
        time.sleep(2.5)  # more than two rounds of the dispatcher
        assert len(sink.received()) == 1

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
                page = context.new_page()
                page.goto(link)
                assert page.url.startswith(f"{base}/login?next=")
                shot(page, output_dir, "1-login")
                page.fill("#password", "wrong")
                page.get_by_role("button", name="Log in").click()
                assert "Wrong password or token." in page.content()
                page.fill("#password", PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url(link)
                assert "return tracking code missing" in page.content()
                shot(page, output_dir, "2-order-shipments")

                # A forged POST (the session cookie, but no CSRF token) is refused.
                forged = context.request.post(
                    f"{base}/shipments/fake/{shipment_id}/codes", form={"return_tracking_code": "FORGED-1"}
                )
                assert forged.status == 403
                # An invalid entry gets a clear message, then the real code goes through.
                page.fill("input[name=return_tracking_code]", "TRACK1")
                page.get_by_role("button", name="Save codes and send").click()
                assert "must differ from the shipping tracking code" in page.content()
                shot(page, output_dir, "3-validation")
                page.fill("input[name=return_tracking_code]", "RET-12345")
                page.get_by_role("button", name="Save codes and send").click()
                page.wait_for_url(f"{base}/shipments")
                assert "Codes saved for order" in page.content()
                shot(page, output_dir, "4-saved")

                wait_for(
                    lambda: fake_backend.world.state()["shipments"].get(order_id), what="shipment reported"
                )
                (sent,) = fake_backend.world.state()["shipments"][order_id]
                assert (sent["tracking_code"], sent["return_tracking_code"]) == ("TRACK1", "RET-12345")
                assert sent["shipment_id"] == shipment_id

                def shipped() -> bool:
                    page.goto(f"{base}/orders/fake/{order_id}")
                    return ">shipped<" in page.content()

                wait_for(shipped, what="order shown as shipped")
                details = page.content()
                for fragment in (
                    "codes entered by a person",
                    "alert e-mail sent",
                    "alert resolved",
                    "RET-12345",
                ):
                    assert fragment in details, fragment
                shot(page, output_dir, "5-order-details")
                page.goto(f"{base}/orders")
                assert order_id in page.content()
                shot(page, output_dir, "6-orders")
            finally:
                browser.close()
        assert json.loads(run_cli(config, "shipments", "missing", "--json").stdout) == []
        assert len(sink.received()) == 1
        assert "FORGED-1" not in json.dumps(fake_backend.world.state()["shipments"])
    finally:
        daemon.stop()
        sink.stop()
