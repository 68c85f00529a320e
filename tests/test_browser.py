"""The real app in headless Chromium: each tab run from a sample, results downloaded and checked, chaining,
an invalid upload, phone width.

With ``BACKDROP_SCREENSHOTS=<folder>`` set, each tab's screenshot is saved there: ``python docs/make_screenshots.py``
regenerates the README's images that way.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKGROUNDS, SAMPLES, download, save_screenshot
from PIL import Image
from playwright.sync_api import expect

from benchmarks.bench_quality import psnr
from pipeline.background import remove_background
from pipeline.compose import compose
from pipeline.intake import load_image

pytestmark = pytest.mark.browser

def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def upload(page, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").first.set_input_files(str(path))
    page.locator(f"#{elem_id} img").first.wait_for()  # the upload has landed and is shown


def test_remove_example_then_chain_to_enhance_and_superimpose(page, tmp_path: Path) -> None:
    """A sample's cut-out, then "Send to Enhance" and "Send to Superimpose" carry it on: full size, alpha kept."""
    page.get_by_role("button", name="Pet", exact=True).click()
    page.locator("#remove-comparison img").first.wait_for()
    cutout = Image.open(download(page, "remove-file", tmp_path))
    expected = remove_background(load_image(SAMPLES / "chelsea.jpg").image)
    assert cutout.mode == "RGBA" and cutout.size == expected.image.size == (451, 300)
    alpha = np.asarray(cutout.getchannel("A"))
    assert np.abs(alpha.astype(int) - np.asarray(expected.mask)).mean() < 0.5
    save_screenshot(page, "remove")

    page.locator("#remove-send-enhance").click()
    expect(page.get_by_role("tab", name="Enhance resolution")).to_have_attribute("aria-selected", "true")
    page.locator("#enhance-input img").first.wait_for()
    page.get_by_role("radio", name="×2").check()
    page.locator("#enhance-run").click()
    expect(page.locator("#enhance-summary textarea")).to_have_value(re.compile("451×300 → 902×600 px"),
                                                                   timeout=120_000)
    enhanced = Image.open(download(page, "enhance-file", tmp_path))
    assert enhanced.mode == "RGBA" and enhanced.size == (902, 600)
    # The alpha came along: halved again, it is the cut-out's.
    halved = np.asarray(enhanced.getchannel("A").reduce(2), dtype=int)
    assert np.abs(halved - alpha).mean() < 4

    page.get_by_role("tab", name="Remove background").click()
    page.locator("#remove-send-superimpose").click()
    expect(page.get_by_role("tab", name="Superimpose")).to_have_attribute("aria-selected", "true")
    page.locator("#superimpose-foreground img").first.wait_for()
    page.get_by_role("radio", name="Colour").check()
    page.locator("#superimpose-run").click()
    page.locator("#superimpose-comparison img").first.wait_for()
    composite = np.asarray(Image.open(download(page, "superimpose-png", tmp_path)).convert("RGB"), dtype=int)
    assert composite.shape == (300, 451, 3)
    clear, opaque = alpha == 0, alpha == 255
    assert np.abs(composite[clear] - 255).max() <= 1  # the default white where the cut-out is transparent
    photo = np.asarray(cutout.convert("RGB"), dtype=int)
    assert np.abs(composite[opaque] - photo[opaque]).max() <= 1  # the subject itself, untouched


def test_enhance_upload_run_download(page, tmp_path: Path) -> None:
    open_tab(page, "Enhance resolution")
    upload(page, "enhance-input", SAMPLES / "chelsea.jpg")
    page.locator("#enhance-run").click()
    page.locator("#enhance-comparison img").first.wait_for()
    assert "1804×1200" in page.locator("#enhance-summary textarea").input_value()
    result = download(page, "enhance-file", tmp_path)
    assert result.name == "chelsea-x4.png"
    enhanced = Image.open(result)
    original = Image.open(SAMPLES / "chelsea.jpg")
    assert enhanced.size == (original.width * 4, original.height * 4)
    # Brought back down, the ×4 result is the photo again (a wrong or shifted image would be far off).
    reduced = np.asarray(enhanced.convert("RGB").reduce(4))
    assert psnr(reduced, np.asarray(original)) > 30
    save_screenshot(page, "enhance")


def test_superimpose_example_click(page, tmp_path: Path) -> None:
    """A click on an example shows the composite; it is the one the pipeline makes from the same files."""
    open_tab(page, "Superimpose")
    page.get_by_role("button", name="Chelsea on bokeh").click()
    page.locator("#superimpose-comparison img").first.wait_for()
    result = Image.open(download(page, "superimpose-png", tmp_path))
    expected = compose(load_image(SAMPLES / "chelsea.jpg").image, load_image(BACKGROUNDS / "bokeh.jpg").image).image
    assert result.size == expected.size == Image.open(BACKGROUNDS / "bokeh.jpg").size
    difference = np.abs(np.asarray(result.convert("RGB"), np.int16) - np.asarray(expected.convert("RGB"), np.int16))
    assert difference.mean() < 1.0
    jpeg = Image.open(download(page, "superimpose-jpeg", tmp_path))
    assert jpeg.format == "JPEG" and jpeg.size == expected.size
    save_screenshot(page, "superimpose")


def test_invalid_upload_shows_the_message(page, tmp_path: Path) -> None:
    fake = tmp_path / "holiday.png"
    fake.write_text("this is not a picture")
    open_tab(page, "Enhance resolution")
    page.locator("#enhance-input input[type=file]").first.set_input_files(str(fake))
    page.locator("#enhance-run").click()
    toast = page.locator("[data-testid=toast-body].error")
    toast.first.wait_for()
    assert "not an image that can be read" in toast.first.inner_text()
    # The server still serves: a real photo afterwards works.
    upload(page, "enhance-input", SAMPLES / "coffee.jpg")
    page.get_by_role("radio", name="×2").check()
    page.locator("#enhance-run").click()
    expect(page.locator("#enhance-summary textarea")).to_have_value(re.compile("→ 1200×800 px"), timeout=120_000)


@pytest.mark.parametrize(("tab", "elem_ids"), [
    ("Remove background", ("remove-file",)), ("Enhance resolution", ("enhance-file",)),
    ("Superimpose", ("superimpose-png", "superimpose-jpeg"))])
def test_download_slots_offer_no_upload(page, tab: str, elem_ids: tuple[str, ...]) -> None:
    """A result's download slot is not a drop zone: a file slot that an event also reads (the "Send to" buttons
    read the cut-out's) is shown by Gradio as an upload unless it is made non-interactive."""
    open_tab(page, tab)
    for elem_id in elem_ids:
        slot = page.locator(f"#{elem_id}")
        slot.wait_for()
        assert slot.locator("input[type=file]").count() == 0
        assert "Drop File Here" not in slot.inner_text()


@pytest.mark.parametrize("tab", ["Remove background", "Enhance resolution", "Superimpose"])
def test_usable_at_phone_width(page, tab: str) -> None:
    """At 390 px (a phone held upright) nothing runs off the side: the columns stack, the page does not scroll
    sideways, and the tab's main button is on screen width."""
    open_tab(page, tab)  # at phone width the tab strip folds extra tabs into a menu
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    button = page.locator(".tabitem:visible button.primary").first
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    if tab == "Superimpose":
        save_screenshot(page, "phone")
