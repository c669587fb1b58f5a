"""Headless Chromium for the console's tests: Debian's `chromium` driven by Playwright (no browser download),
with a fresh profile, and a page that records what a person would notice went wrong: console errors, page
errors and requests answered 400 or more."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.services import ROOT

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SHOTS = Path(os.environ.get("RELAYGATE_SCREENSHOTS", ROOT / "screenshots"))
"""Where the run writes each page's screenshot at both sizes (not committed; .gitignore has it)."""


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    why = "Debian's chromium is not installed (scripts/test-services.sh installs it: make test)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"the console's browser tests need Chromium in CI: {why}")
    pytest.skip(why)


@dataclass
class Watch:
    """What went wrong on a page: console errors, uncaught exceptions, answers >= 400 (with their URLs)."""

    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.errors.clear()
        self.failed.clear()
        self.requests.clear()


@contextmanager
def chromium_context() -> Iterator[Any]:
    """One browser for the module's tests, with a profile of its own that is deleted afterwards."""
    binary = chromium_binary()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (make install brings it)")
    profile = tempfile.mkdtemp(prefix="relaygate-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(profile, executable_path=binary, args=CHROMIUM_FLAGS,
                                                        headless=True, viewport=DESKTOP, accept_downloads=True)
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def watched_page(context: Any, watch: Watch) -> Any:
    page = context.new_page()
    page.on("console", lambda m: watch.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.errors.append(f"page error: {e}"))
    page.on("response", lambda r: watch.failed.append(f"{r.status} {r.request.method} {r.url}")
            if r.status >= 400 else None)
    page.on("request", lambda r: watch.requests.append(f"{r.method} {r.url}"))
    return page


def fields_without_labels(page: Any) -> list[str]:
    """Every visible form field's accessible name must come from a label (or aria-label)."""
    result: list[str] = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter((el) => el.type !== 'hidden' && el.offsetParent !== null)
        .filter((el) => !(el.labels && el.labels.length && el.labels[0].textContent.trim())
                        && !el.getAttribute('aria-label'))
        .map((el) => el.name || el.outerHTML.slice(0, 80))""")
    return result


def scrolls_sideways(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth > document.documentElement.clientWidth"))


def screenshot(page: Any, name: str, size: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}-{size}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
