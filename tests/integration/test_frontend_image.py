"""The frontend image builds offline from the local nginx base and serves the site as documented."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from app import build_site
from local.images import nginx_tag
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "app" / "frontend"
CONTEXT_FILES = ("Dockerfile", "nginx.conf", "healthz.conf", "healthz-broken.conf", "pages.conf", "pages-broken.conf")

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def fetch(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fetch(url)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


@pytest.fixture(scope="module")
def image_factory(docker_engine, tmp_path_factory):
    """Build images from a private copy of the build context (nothing in the checkout is written)."""
    if docker("image", "inspect", nginx_tag(), check=False).returncode != 0:
        pytest.fail(f"base image {nginx_tag()} is missing: run 'python -m local.images ensure --only nginx'")
    context = tmp_path_factory.mktemp("frontend-context")
    for name in CONTEXT_FILES:
        shutil.copy(FRONTEND / name, context / name)
    config = context.parent / "config.json"
    config.write_text(json.dumps({"apiBaseUrl": "https://api.example.com/prod"}))
    result = build_site.build(ROOT / "app" / "site", context / "site", config)
    tags: list[str] = []

    def build(broken: bool | str = False) -> tuple[str, build_site.BuildResult]:
        tag = f"cloudsite/frontend-test:{uuid.uuid4().hex[:10]}"
        args = ["build", "-q", "--build-arg", f"BASE_IMAGE={nginx_tag()}", "-t", tag]
        if broken:
            args += ["--build-arg", f"BROKEN={'true' if broken is True else broken}"]
        docker(*args, str(context))
        tags.append(tag)
        return tag, result

    yield build
    if tags:
        docker("rmi", "-f", *tags, check=False)


@pytest.fixture(scope="module")
def running(image_factory):
    """Run a container and return its base URL; removed at the end of the module."""
    names: list[str] = []

    def run(tag: str, *extra: str, port: int | None = None) -> str:
        port = port or free_port()
        name = f"cloudsite-frontend-test-{uuid.uuid4().hex[:8]}"
        docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:80", *extra, tag)
        names.append(name)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz")
        return url

    yield run
    for name in names:
        docker("rm", "-f", name, check=False)


@pytest.fixture(scope="module")
def site(image_factory, running):
    tag, result = image_factory()
    return running(tag), result


def test_healthz_answers_200(site):
    url, _ = site
    status, headers, body = fetch(f"{url}/healthz")
    assert status == 200
    assert body == b"ok\n"
    assert headers["cache-control"] == "no-store"


def test_version_json_holds_the_build_hash(site):
    url, result = site
    status, headers, body = fetch(f"{url}/version.json")
    assert status == 200
    assert json.loads(body) == {"hash": result.hash, "built": result.built}
    assert headers["cache-control"] == "no-cache"


def test_config_json_is_served_uncached(site):
    url, _ = site
    status, headers, body = fetch(f"{url}/config.json")
    assert status == 200
    assert json.loads(body) == {"apiBaseUrl": "https://api.example.com/prod"}
    assert headers["cache-control"] == "no-cache"


def test_security_headers_are_present_on_pages_and_errors(site):
    url, _ = site
    for path, expected_status in (("/", 200), ("/no-such-page", 404)):
        status, headers, _ = fetch(f"{url}{path}")
        assert status == expected_status
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "camera=()" in headers["permissions-policy"]
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "connect-src 'self' https: http://127.0.0.1:*" in csp
        assert "nginx/" not in headers.get("server", "")


def test_hashed_assets_are_immutable_and_html_references_them(site):
    url, _ = site
    _, headers, html = fetch(f"{url}/")
    assert headers["cache-control"] == "no-cache"
    page = html.decode()
    css = next(p for p in page.split('"') if p.startswith("css/site.") and p.endswith(".css"))
    status, headers, _ = fetch(f"{url}/{css}")
    assert status == 200
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["content-type"].startswith("text/css")


def test_gzip_is_applied_to_text_assets(site):
    url, _ = site
    _, _, plain = fetch(f"{url}/")
    status, headers, body = fetch(f"{url}/", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers.get("content-encoding") == "gzip"
    assert "Accept-Encoding" in headers.get("vary", "")
    assert gzip.decompress(body) == plain
    assert len(body) < len(plain)


def test_broken_build_answers_500_on_healthz(image_factory, running):
    tag, result = image_factory(broken=True)
    url = running(tag)
    status, _, _ = fetch(f"{url}/healthz")
    assert status == 500
    # The site itself is still served: only the health check is broken.
    _, _, body = fetch(f"{url}/version.json")
    assert json.loads(body)["hash"] == result.hash


def test_pages_broken_build_passes_checks_but_fails_pages(image_factory, running):
    """BROKEN=pages: the version the bake rehearsal rolls (health and version checks pass, pages do not)."""
    tag, result = image_factory(broken="pages")
    url = running(tag)
    assert fetch(f"{url}/healthz")[0] == 200
    status, _, body = fetch(f"{url}/version.json")
    assert status == 200 and json.loads(body)["hash"] == result.hash
    assert fetch(f"{url}/")[0] == 500
    assert fetch(f"{url}/index.html")[0] == 500


@pytest.mark.emulator
def test_page_counts_and_sends_through_csp_and_cors_in_a_browser(
    site, image_factory, running, moto_url, aws_client, tmp_path
):
    """Headless Chromium on the served page: counter and contact form reach the local API (CSP, CORS, JS)."""
    # The set-up `make test` runs installs Debian's chromium (local/bootstrap.sh browser): no skip here.
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    from playwright import sync_api

    if chromium is None:
        pytest.fail("no Chromium: run 'bash local/bootstrap.sh browser' (apt-get install chromium) or set CHROMIUM")
    import threading

    from local import local_api

    table, recipient = f"browser-{uuid.uuid4().hex[:8]}", f"owner-{uuid.uuid4().hex[:8]}@example.com"
    aws_client("dynamodb").create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    for address in ("site@example.com", recipient):
        aws_client("ses").verify_email_identity(EmailAddress=address)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    api = local_api.make_server(
        0, moto_url, overrides=local_api.Overrides(table, "site@example.com", recipient, origin)
    )
    threading.Thread(target=api.serve_forever, daemon=True).start()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"apiBaseUrl": f"http://127.0.0.1:{api.server_address[1]}/prod"}))
    config.chmod(0o644)
    tag, _ = image_factory()
    url = running(tag, "-v", f"{config}:/usr/share/nginx/html/config.json:ro", port=port)
    problems: list[str] = []
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            page.on(
                "console",
                lambda m: problems.append(m.text) if "Content Security Policy" in m.text or "CORS" in m.text else None,
            )
            page.goto(f"{url}/")
            # Selector waits, not wait_for_function: the page's CSP (rightly) forbids eval in its world.
            page.wait_for_selector("#visitor-count:not([data-state='loading'])")
            assert page.get_attribute("#visitor-count", "data-state") == "ok"
            assert page.text_content("#visitor-count") == "1"
            page.reload()  # same browser session: GET, no increment
            page.wait_for_selector("#visitor-count[data-state='ok']")
            assert page.text_content("#visitor-count") == "1"
            page.fill("#contact-name", "Ada")
            page.fill("#contact-email", "ada@example.org")
            page.fill("#contact-message", "Sent from a headless browser")
            page.click("#contact-submit")
            page.wait_for_selector("#contact-status[data-kind='ok'], #contact-status[data-kind='error']")
            assert page.get_attribute("#contact-status", "data-kind") == "ok", page.text_content("#contact-status")
            browser.close()
    finally:
        api.shutdown()
        api.server_close()
    assert problems == []
    with urllib.request.urlopen(f"{moto_url}/moto-api/cloudsite/ses/sent", timeout=30) as resp:
        sent = [m for m in json.load(resp) if m["to"] == [recipient]]
    assert len(sent) == 1


def hardening_flags() -> list[str]:
    """docker run flags equal to roles/frontend's container hardening defaults."""
    import yaml

    d = yaml.safe_load((ROOT / "roles" / "frontend" / "defaults" / "main.yml").read_text())
    flags = ["--read-only"] if d["frontend_container_read_only"] else []
    flags += [f"--tmpfs={t}" for t in d["frontend_container_tmpfs"]]
    flags += [f"--cap-drop={c}" for c in d["frontend_container_cap_drop"]]
    flags += [f"--cap-add={c}" for c in d["frontend_container_cap_add"]]
    flags += [f"--security-opt={o}" for o in d["frontend_container_security_opts"]]
    flags += [f"--memory={d['frontend_container_memory']}", f"--memory-swap={d['frontend_container_memory']}"]
    return [*flags, f"--pids-limit={d['frontend_container_pids_limit']}"]


def test_image_serves_under_the_roles_container_hardening(image_factory, running):
    """Issue 13 point 6: read-only root, tmpfs, dropped capabilities, no-new-privileges, limits.

    Before, nginx wrote its temp files under /var/lib/nginx (Debian base) and could not start on a
    read-only root. Docker's own report of the running container is checked, not the flags passed.
    """
    tag, result = image_factory()
    url = running(tag, *hardening_flags())
    assert fetch(f"{url}/healthz")[0] == 200
    status, _, body = fetch(f"{url}/version.json")
    assert status == 200 and json.loads(body)["hash"] == result.hash
    assert fetch(f"{url}/", {"Accept-Encoding": "gzip"})[0] == 200
    name = docker("ps", "-q", "--filter", f"ancestor={tag}").stdout.split()[0]
    host = json.loads(docker("inspect", name).stdout)[0]["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    # Newer engines report capabilities with the CAP_ prefix.
    assert sorted(c.removeprefix("CAP_") for c in host["CapAdd"]) == ["CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["Memory"] == 128 * 1024 * 1024 and host["PidsLimit"] == 128
    assert set(host["Tmpfs"]) == {"/tmp", "/run"}
    status = docker("exec", name, "grep", "NoNewPrivs", "/proc/1/status").stdout
    assert status.split() == ["NoNewPrivs:", "1"]
