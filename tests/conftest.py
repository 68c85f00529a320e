"""Shared fixtures: the launched app, a headless Chromium page on it, the evaluation sets beside the project."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.harness import launch_app, stop
from pipeline import quantize

ROOT = Path(__file__).resolve().parent.parent
EVAL_DIR = ROOT.parent / "shared" / "eval"
SAMPLES = ROOT / "assets" / "samples"
BACKGROUNDS = ROOT / "assets" / "backgrounds"
# Debian's chromium (CI installs it); CHROMIUM overrides the path.
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Where browser tests save each tab's screenshot (docs/make_screenshots.py sets it to docs/images).
SCREENSHOTS = os.environ.get("BACKDROP_SCREENSHOTS")


def save_screenshot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def download(page: Any, elem_id: str, tmp_path: Path, name: str | None = None) -> Path:
    """Click the file component's download link; return the downloaded file (saved as ``name`` if given)."""
    link = page.locator(f"#{elem_id} a[download]").first
    link.wait_for()
    with page.expect_download() as event:
        link.click()
    target = tmp_path / (name or event.value.suggested_filename)
    event.value.save_as(target)
    return target


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """One launched app shared by the API and browser tests.

    u2net's INT8 network is built first (once per machine; the app would build it in the background), so the app
    and the tests' in-process references run "auto" at the same precision from the first request on.
    """
    quantize.ensure_int8("u2net")
    process, url, _ = launch_app()
    yield url
    stop(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright (one browser for the whole run)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium (see .ci/run)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"])
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object, app_url: str) -> Iterator[object]:
    """A fresh page on the launched app, loaded and ready (downloads allowed)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)  # type: ignore[attr-defined]
    context.set_default_timeout(120_000)
    tab = context.new_page()
    tab.goto(app_url)
    tab.wait_for_selector("gradio-app .gradio-container", timeout=60_000)
    yield tab
    context.close()


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    if not EVAL_DIR.is_dir():
        pytest.skip(f"evaluation data not found at {EVAL_DIR}")
    return EVAL_DIR
