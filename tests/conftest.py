"""Shared test fixtures: Debian's headless Chromium driven by playwright, and the two markers.

`nodes` (starts real hardhat/bcoin nodes) and `browser` (drives Chromium) are registered in
pyproject.toml, so `pytest -m "not nodes and not browser"` is the fast subset; `make test`
runs everything. Neither can hide a test: a test that uses the `chromium` fixture is marked
`browser` here, and a test that starts a node without the `nodes` marker fails. Nothing skips
for a missing browser: deselect it with the marker instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
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
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
_RUNNING: list[pytest.Item] = []  # the test being set up, run or torn down


@pytest.hookimpl(tryfirst=True)  # before -m deselects: the marker it adds must count
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "chromium" in getattr(item, "fixturenames", ()) and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _RUNNING.append(item)
    try:
        return (yield)
    finally:
        _RUNNING.pop()


@pytest.fixture(scope="session", autouse=True)
def nodes_only_in_tests_marked_nodes() -> Iterator[None]:
    """A node started by a test without @pytest.mark.nodes fails that test: the fast subset stays fast."""
    from fixtures.localchains.bcoin import BcoinNode
    from fixtures.localchains.hardhat import HardhatNode

    originals = {cls: cls.start for cls in (BcoinNode, HardhatNode)}

    def guarded(cls: type) -> Any:
        def start(self: Any, *args: Any, **kwargs: Any) -> Any:
            item = _RUNNING[-1] if _RUNNING else None
            if item is not None and item.get_closest_marker("nodes") is None:
                pytest.fail(f"{item.nodeid} starts a {cls.__name__}: mark it @pytest.mark.nodes", pytrace=False)
            return originals[cls](self, *args, **kwargs)

        return start

    for cls in originals:
        cls.start = guarded(cls)  # type: ignore[method-assign]
    yield
    for cls, start in originals.items():
        cls.start = start  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium (`make test` installs Debian's). Missing, it fails: deselect with -m "not browser".

    Module-scoped: playwright's sync API keeps an event loop running in this thread,
    which the async tests of the next module must not find there."""
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.fail(
            'Debian\'s chromium is missing: `make test` installs it; or deselect with -m "not browser"', pytrace=False
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshot_dir() -> Path:
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
