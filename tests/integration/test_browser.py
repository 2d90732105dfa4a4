"""The site in a real browser: headless Debian Chromium driven by Playwright.

The local environment's pieces, on free loopback ports: the site built by ``app/build_site.py`` with a
config.json naming the local API (``local/local_api.py``), whose table and SES identities live in the
session's private emulator, served by a stdlib HTTP server. The page must show a visitor count, show
it one higher in a new browser session (reloads within a session only read it), and show the API's
validation message for a bad email. A screenshot is saved under build/screenshots/ and its path
printed (run pytest with -rA or -s to see it) and recorded as the test's ``screenshot`` property.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app import build_site
from tests.conftest import ROOT, free_port
from tools.paths import OUTPUT_ROOT

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

# Debian's chromium; CI runners without it point CHROMIUM at another Chromium build (e.g. google-chrome).
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = OUTPUT_ROOT / "screenshots"
TABLE = "cloudsite-browser-visitors"
SENDER = "noreply@example.com"
RECIPIENT = "owner@example.com"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def site(moto_reset, aws_client, tmp_path):
    """URL of the built site, wired to a local API on the private emulator."""
    dynamodb = aws_client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ses = aws_client("ses")
    for address in (SENDER, RECIPIENT):
        ses.verify_email_identity(EmailAddress=address)

    site_port, api_port = free_port(), free_port()
    origin = f"http://127.0.0.1:{site_port}"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"apiBaseUrl": f"http://127.0.0.1:{api_port}/prod"}))
    out = tmp_path / "build"
    result = build_site.build(ROOT / "app" / "site", out, config=config)

    api = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.local_api",
            "--port",
            str(api_port),
            "--endpoint",
            moto_reset,
            "--table",
            TABLE,
            "--sender",
            SENDER,
            "--recipient",
            RECIPIENT,
            "--allowed-origin",
            origin,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    server = ThreadingHTTPServer(("127.0.0.1", site_port), functools.partial(QuietHandler, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{api_port}/healthz", timeout=0.5).close()
                break
            except OSError:
                assert api.poll() is None, "the local API exited"
                time.sleep(0.1)
        yield {"url": f"{origin}/", "hash": result.hash}
    finally:
        server.shutdown()
        server.server_close()
        api.terminate()
        api.wait(timeout=10)


@pytest.fixture
def browser(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium, or set CHROMIUM to a Chromium binary")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 1600},
        )
        try:
            yield browser
        finally:
            browser.close()


def shown_count(page) -> int:
    counter = page.locator("#visitor-count")
    page.wait_for_function("document.getElementById('visitor-count').dataset.state !== 'loading'", timeout=15000)
    assert counter.get_attribute("data-state") == "ok", page.locator("#visitor-note").inner_text()
    return int(counter.inner_text().replace(",", ""))


def test_counter_and_contact_validation_in_chromium(site, browser, record_property):
    page = browser.new_page()
    page.goto(site["url"])
    first = shown_count(page)
    assert first >= 1
    # The footer shows the build this page came from.
    page.wait_for_function("document.getElementById('build-version').textContent.length > 0", timeout=15000)
    assert site["hash"][:12] in page.locator("#build-version").inner_text()

    # A reload in the same browser session only reads the count ...
    page.reload()
    assert shown_count(page) == first
    # ... and a new session of the same visitor (same address and browser) is not counted again that day.
    page.evaluate("window.sessionStorage.clear()")
    page.reload()
    assert shown_count(page) == first

    page.fill("#contact-name", "Browser Test")
    page.fill("#contact-email", "not-an-email")
    page.fill("#contact-message", "Hello from headless Chromium.")
    page.click("#contact-submit")
    status = page.locator("#contact-status")
    page.wait_for_function("document.getElementById('contact-status').dataset.kind === 'error'", timeout=15000)
    assert status.inner_text() == "The email address is not valid."
    assert page.locator("#contact-email").get_attribute("aria-invalid") == "true"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "site-in-chromium.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    record_property("screenshot", str(shot))
    print(f"screenshot: {shot}")
