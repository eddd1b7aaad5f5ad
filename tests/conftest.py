"""Shared test fixtures: Debian's headless Chromium driven by playwright."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium; `make test` installs it, so its absence fails rather than skips in CI.

    Module-scoped: playwright's sync API keeps an event loop running in this thread,
    which the async tests of the next module must not find there."""
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: `make test` installs it")
        pytest.skip("Debian's chromium is not installed (`make test` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshot_dir():
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
