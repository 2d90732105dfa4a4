"""The site `make demo` deployed, opened where `make demo` says: `make demo-check` (issue 16).

Not part of `make test` (marker ``demo``, deselected there): it needs the deploy `make demo` leaves
running (emulator, local API, data plane, stand-ins). It asks the summary `make demo` ends with for its
"Open <url>" line, opens that URL in headless Chromium, and sees the visitor counter and the contact
form work through edge -> ALB -> containers -> local API, the message really sent by SES.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import BIN, ROOT

pytestmark = pytest.mark.demo

OPEN = re.compile(r"Open (http://127\.0\.0\.1:\d+/)")


def run(*args: str) -> str:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout


@pytest.fixture(scope="module")
def demo_url() -> str:
    """The URL the summary of `make demo` prints (the same playbook, the same environment)."""
    out = run(str(BIN / "ansible-playbook"), "-i", "inventories/local", "playbooks/summary.yml")
    match = OPEN.search(out)
    if match is None:
        pytest.fail("the summary prints no 'Open http://127.0.0.1:<port>/' line: run `make demo` first (data plane on)")
    return match.group(1)


def test_the_printed_url_serves_the_site_and_its_counter_and_form_work(demo_url, tmp_path):
    from playwright import sync_api

    from tests.integration.test_browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make browser`")
    endpoint = run(str(BIN / "python"), "-m", "local.envctl", "endpoint").strip()
    with urllib.request.urlopen(demo_url, timeout=10) as resp:
        assert b"visitor-count" in resp.read()
    mark = f"make demo-check {time.time_ns()}"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(demo_url)
            # Selector waits, not wait_for_function: the site's CSP (rightly) forbids eval in its world.
            page.wait_for_selector("#visitor-count:not([data-state='loading'])", timeout=20000)
            assert page.locator("#visitor-count").get_attribute("data-state") == "ok"
            assert int(page.locator("#visitor-count").inner_text().replace(",", "")) >= 1
            page.fill("#contact-name", "Demo Check")
            page.fill("#contact-email", "visitor@example.org")
            page.fill("#contact-message", mark)
            page.click("#contact-submit")
            page.wait_for_selector("#contact-status[data-kind='ok'], #contact-status[data-kind='error']", timeout=20000)
            status = page.locator("#contact-status")
            assert status.get_attribute("data-kind") == "ok", status.inner_text()
        finally:
            browser.close()
    with urllib.request.urlopen(f"{endpoint}/moto-api/cloudsite/ses/sent", timeout=30) as resp:
        sent = [m for m in json.load(resp) if mark in m.get("body", "")]
    assert len(sent) == 1, sent  # really sent, once
