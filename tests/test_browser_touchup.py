"""The touch-up panel in headless Chromium: the editor shows the cut-out on the photo; a red stroke painted with the
mouse removes what it covers."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES, download, save_screenshot
from PIL import Image

pytestmark = pytest.mark.browser

PHOTO = SAMPLES / "chelsea.jpg"  # 451×300; the cat's face fills the middle, and u2netp keeps all of it
STROKE_HALF_LENGTH = 60  # screen pixels either side of the canvas centre


def download_cutout_alpha(page, tmp_path: Path, name: str) -> np.ndarray:
    """The cut-out PNG's alpha, downloaded through its file link."""
    cutout = Image.open(download(page, "remove-file", tmp_path, name))
    assert cutout.mode == "RGBA"
    return np.asarray(cutout)[..., 3]


def canvas_pixels(canvas) -> np.ndarray:
    """What the editor's canvas shows, as an RGB array of screen pixels."""
    return np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), dtype=np.int16)


def test_a_red_stroke_removes_what_it_covers(page, tmp_path: Path) -> None:
    page.locator("#remove-photo input[type=file]").first.set_input_files(str(PHOTO))
    page.locator("#remove-photo img").first.wait_for()
    page.locator("#remove-model input").click()
    page.get_by_role("option", name=re.compile(r"^u2netp\b")).click()
    page.locator("#remove-run").click()
    page.get_by_text("Done in").wait_for()
    before = download_cutout_alpha(page, tmp_path, "before.png")

    # The editor shows the photo (scaled to fit, centred): paint across its middle, the cat's face, in red.
    editor = page.locator("#touchup-editor")
    canvas = editor.locator("canvas").first
    canvas.wait_for()
    page.wait_for_timeout(500)  # the background image is drawn after the canvas appears
    # The cut-out is shown on the photo: the cat the model kept is as in the photo (the room is dimmed blue).
    # (The photo is centred in the canvas; its centre, between the cat's eyes, is kept.)
    shown = canvas_pixels(canvas)
    photo = np.asarray(Image.open(PHOTO).convert("RGB"), dtype=np.int16)
    assert np.abs(shown[shown.shape[0] // 2, shown.shape[1] // 2] - photo[150, 225]).max() < 40
    editor.get_by_role("button", name="Color").click()
    editor.locator("button.color[style*='239, 68, 68']").click()  # the remove brush
    editor.get_by_role("button", name="Brush", exact=True).click()  # closes the swatches, which cover the canvas
    box = canvas.bounding_box()
    centre_x, centre_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(centre_x - STROKE_HALF_LENGTH, centre_y)
    page.mouse.down()
    page.mouse.move(centre_x + STROKE_HALF_LENGTH, centre_y, steps=20)
    page.mouse.up()
    page.locator("#touchup-apply").click()
    page.get_by_text("Touched up in").wait_for()
    after = download_cutout_alpha(page, tmp_path, "after.png")
    save_screenshot(page, "touchup")

    assert after.shape == before.shape == (300, 451)
    # At the editor's zoom (the photo fitted to about 600×350) the stroke crosses the photo's centre.
    centre_row = np.s_[150, 225 - 30:225 + 30]
    assert (before[centre_row] == 255).all()
    assert (after[centre_row] == 0).all()
    assert (after <= before).all()  # a remove stroke only takes away
    assert ((before == 255) & (after == 0)).sum() > 2000
    # The stroke spans about x = 140–310: the cat's left cheek and eye, farther away, keep the model's mask.
    assert (after[:, :100] == before[:, :100]).all()


    # Reset: back to the model's cut-out, and the strokes are gone.
    page.locator("#touchup-reset").click()
    page.get_by_text("Done in").wait_for()
    assert (download_cutout_alpha(page, tmp_path, "reset.png") == before).all()
    page.locator("#touchup-apply").click()
    toast = page.locator("[data-testid=toast-body].error").first
    toast.wait_for()
    assert "Paint a stroke first" in toast.inner_text()

    # A new photo closes the panel: its strokes and mask belonged to the cat's cut-out.
    page.locator("#remove-photo button[aria-label='Remove Image']").first.click()
    page.locator("#remove-photo input[type=file]").first.set_input_files(str(SAMPLES / "coffee.jpg"))
    page.locator("#touchup-editor").wait_for(state="hidden")
