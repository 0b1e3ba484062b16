"""A demo gateway, an admin key made by the CLI, and a real headless Chromium (Debian's
``chromium``, driven by Playwright; nothing is downloaded).

Every page the browser opens is watched: a request to any host but the gateway, an uncaught
script error or a console error fails the test (except the browser's own note that a page we
meant to answer with a 4xx did so). Screenshots go to a temporary directory, or to
``docs/console/`` with ``SWITCHYARD_UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.gateway import REPO, Gateway, copy_demo_config

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api")


def _chromium_missing() -> bool:
    return not Path(CHROMIUM).exists()


@dataclass
class PageWatch:
    """What the browser saw that a working page never does."""

    gateway_host: str
    foreign_requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    confirmations: list[str] = field(default_factory=list)
    accept_confirm: bool = False  # set by a test that clicks a button which asks first

    def on_request(self, request: object) -> None:
        url = request.url  # type: ignore[attr-defined]
        parts = urlsplit(url)
        if parts.scheme in ("data", "about", "blob"):
            return
        if parts.netloc != self.gateway_host:
            self.foreign_requests.append(url)

    def on_console(self, message: object) -> None:
        text = message.text  # type: ignore[attr-defined]
        if message.type == "error" and "the server responded with a status of 4" not in text:  # type: ignore[attr-defined]
            self.errors.append(text)

    def on_dialog(self, dialog: object) -> None:
        if self.accept_confirm and dialog.type == "confirm":  # type: ignore[attr-defined]
            self.confirmations.append(dialog.message)  # type: ignore[attr-defined]
            dialog.accept()  # type: ignore[attr-defined]
            return
        self.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()  # type: ignore[attr-defined]

    def assert_clean(self) -> None:
        assert self.foreign_requests == [], f"non-local requests: {self.foreign_requests}"
        assert self.errors == [], f"page errors: {self.errors}"
        assert self.dialogs == [], f"unexpected dialogs (script ran?): {self.dialogs}"


@pytest.fixture(scope="session")
def console_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("console")
    gateway = Gateway(copy_demo_config(root / "variants"), root / "data")
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def admin_key(console_gateway: Gateway) -> str:
    return cli_key(console_gateway, "--admin", "--name", "console-admin")


def cli_key(gateway: Gateway, *args: str) -> str:
    """A key made by ``switchyard keys create``, once the running gateway accepts it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    env.update(
        SWITCHYARD_DATA_DIR=str(gateway.data_dir), SWITCHYARD_CONFIG_DIR=str(gateway.config_dir)
    )
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "keys", "create", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    key = out.split()[0]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # the key cache refreshes about once a second
        status = httpx.get(
            gateway.url + "/v1/campaigns/tone-test/results",
            headers={"authorization": f"Bearer {key}"},
        ).status_code
        if status != 401:
            return key
        time.sleep(0.2)
    raise AssertionError("the gateway never accepted the key made by the CLI")


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Package-scoped: Playwright's sync API keeps an event loop running in this thread while
    it is open, and later tests call ``asyncio.run``."""
    if _chromium_missing():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: object, console_gateway: Gateway) -> Iterator[tuple[object, PageWatch]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    watch = PageWatch(urlsplit(console_gateway.url).netloc)
    page.on("request", watch.on_request)
    page.on("console", watch.on_console)
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    page.on("dialog", watch.on_dialog)
    page.set_default_timeout(15_000)
    yield page, watch
    context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("SWITCHYARD_UPDATE_SCREENSHOTS") == "1":
        target = REPO / "docs" / "console"
        target.mkdir(parents=True, exist_ok=True)
        return target
    return tmp_path_factory.mktemp("screenshots")
