"""The sandbox in a real browser: Debian's Chromium, driven by Playwright.

No browser is downloaded: Playwright launches /usr/bin/chromium, which the
project's set-up installs (`make browser`, a prerequisite of `make test`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from bot.sandbox import Sandbox, running_sandbox

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM}: run `make browser`"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs it; never skip there
        pytest.skip(reason)
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # Root in a container has no user namespaces for Chromium's sandbox.
            args=["--no-sandbox"],
        )
        yield launched
        await launched.close()


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running_sandbox() as started:
        yield started


@pytest.fixture
async def page(browser: Browser, sandbox: Sandbox) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1500, "height": 900})
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    await opened.goto(sandbox.url)
    await opened.wait_for_selector("#person option", state="attached")
    yield opened
    await context.close()
    assert not errors, f"the page raised: {errors}"


class Screenshots:
    """Saved under docs/screenshots when SCREENSHOTS=docs, else in tmp."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def take(self, page: Page, name: str) -> Path:
        path = self.folder / f"{name}.png"
        await page.screenshot(path=str(path))
        return path


@pytest.fixture
def screenshots(tmp_path: Path) -> Screenshots:
    if os.environ.get("SCREENSHOTS") == "docs":
        folder = ROOT / "docs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        return Screenshots(folder)
    return Screenshots(tmp_path)
