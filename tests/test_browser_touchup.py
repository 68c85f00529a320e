"""The touch-up panel: in headless Chromium, the editor shows the cut-out on the photo, a red stroke painted with the
mouse removes what it covers, and after Apply the editor shows the new cut-out with the stroke still there; through
its handler, Apply gives the Remove tab's edge colours and download format."""

from __future__ import annotations

import io
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SAMPLES, download, save_screenshot
from PIL import Image

from pipeline.background import network_photo
from pipeline.matting import estimate_foreground
from web.remove import cut_out_for_touch_up
from web.touchup import REMOVE_COLOUR, apply_touch_up, mask_overlay

PHOTO = SAMPLES / "chelsea.jpg"  # 451×300; the cat's face fills the middle, and u2netp keeps all of it
STROKE_HALF_LENGTH = 60  # screen pixels either side of the canvas centre
RED = np.array((239, 68, 68))  # the remove brush, REMOVE_COLOUR
# The editor's view is WebP-encoded and resampled to the screen: colours within this of each other are the same.
SCREEN_TOLERANCE = 40
UNCHANGED = 12  # a pixel the editor shows as before (WebP's noise in the re-encoded view is below this)
# Farther than this from the stroke (a share of the photo's shown width) nothing is the stroke's business: the corners
# of the photo (the stroke crosses the middle of the face; what it takes away reaches about 0.21 of the width).
FAR_SHARE = 0.3


def download_cutout_alpha(page, tmp_path: Path, name: str) -> np.ndarray:
    """The cut-out file's alpha, downloaded through its file link."""
    cutout = Image.open(download(page, "remove-file", tmp_path, name))
    assert cutout.mode == "RGBA"
    return np.asarray(cutout)[..., 3]


def canvas_pixels(canvas) -> np.ndarray:
    """What the editor's canvas shows, as an RGB array of screen pixels."""
    return np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), dtype=np.int16)


def photo_on_screen(editor, shown: np.ndarray) -> np.s_:
    """Where the editor shows the photo in a canvas screenshot: centred, at the zoom its controls show."""
    zoom = int(editor.get_by_text(re.compile(r"^\d+%$")).first.inner_text().rstrip("%")) / 100
    width, height = round(451 * zoom), round(300 * zoom)
    top, left = (shown.shape[0] - height) // 2, (shown.shape[1] - width) // 2
    return np.s_[top:top + height, left:left + width]


def overlay_on_screen(photo: Image.Image, alpha: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The editor's view of a cut-out with ``alpha`` (the app's overlay of the mask on the photo) at screen size."""
    overlay = mask_overlay(photo, Image.fromarray(alpha)).resize(size, Image.Resampling.BILINEAR)
    return np.asarray(overlay, dtype=np.int16)


def differs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.abs(first - second).max(axis=2) > SCREEN_TOLERANCE


def distance_from(region: np.ndarray) -> np.ndarray:
    """Each pixel's distance (px) from ``region``."""
    return cv2.distanceTransform(np.uint8(~region), cv2.DIST_L2, 5)


def wait_for_new_view(page, canvas, old: np.ndarray) -> np.ndarray:
    """The canvas once it shows something else than ``old`` and has settled (the new background is loaded)."""
    for _ in range(60):
        page.wait_for_timeout(250)
        now = canvas_pixels(canvas)
        if now.shape == old.shape and differs(now, old).sum() > 100:
            page.wait_for_timeout(500)
            return canvas_pixels(canvas)
    raise AssertionError("the editor still shows the view from before Apply")


@pytest.mark.browser
def test_a_red_stroke_removes_what_it_covers(page, tmp_path: Path) -> None:
    page.locator("#remove-photo input[type=file]").first.set_input_files(str(PHOTO))
    page.locator("#remove-photo img").first.wait_for()
    page.locator("#remove-model input").click()
    page.get_by_role("option", name=re.compile(r"^u2netp\b")).click()
    page.locator("#remove-run").click()
    page.get_by_text("Done in").wait_for()
    before = download_cutout_alpha(page, tmp_path, "before.png")

    editor = page.locator("#touchup-editor")
    canvas = editor.locator("canvas").first
    canvas.wait_for()
    page.wait_for_timeout(500)  # the background image is drawn after the canvas appears
    # The editor shows the cut-out on the photo: what the model removed is dimmed blue, the cat as in the photo.
    shown = canvas_pixels(canvas)
    on_photo = photo_on_screen(editor, shown)
    photo = Image.open(PHOTO).convert("RGB")
    size = (on_photo[1].stop - on_photo[1].start, on_photo[0].stop - on_photo[0].start)
    assert np.abs(shown[on_photo] - overlay_on_screen(photo, before, size)).mean() < 8

    # Paint across the middle of the photo, the cat's face, in red.
    editor.get_by_role("button", name="Color").click()
    editor.locator("button.color[style*='239, 68, 68']").click()  # the remove brush
    editor.get_by_role("button", name="Brush", exact=True).click()  # closes the swatches, which cover the canvas
    box = canvas.bounding_box()
    centre_x, centre_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(centre_x - STROKE_HALF_LENGTH, centre_y)
    page.mouse.down()
    page.mouse.move(centre_x + STROKE_HALF_LENGTH, centre_y, steps=20)
    page.mouse.up()
    page.wait_for_timeout(300)
    painted = canvas_pixels(canvas)
    page.locator("#touchup-apply").click()
    page.get_by_text("Touched up in").wait_for()
    after = download_cutout_alpha(page, tmp_path, "after.png")
    applied = wait_for_new_view(page, canvas, painted)
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

    # After Apply the editor shows the new cut-out, with the stroke still on it (over the photo, on screen).
    painted, applied, shown = painted[on_photo], applied[on_photo], shown[on_photo]
    stroke = ~differs(painted, np.broadcast_to(RED, painted.shape)) & differs(shown, painted)
    assert stroke.sum() > 3000
    assert (~differs(applied, np.broadcast_to(RED, applied.shape))[stroke]).mean() > 0.97
    # The overlay changed where the mask changed (the part the stroke took away is dimmed now) ...
    changed = differs(applied, painted) & ~stroke
    expected = differs(overlay_on_screen(photo, after, size), overlay_on_screen(photo, before, size)) & ~stroke
    assert expected.sum() > 1000
    assert (changed & expected).sum() / (changed | expected).sum() > 0.8
    unchanged = np.abs(applied - painted).max(axis=2) <= UNCHANGED
    assert unchanged[distance_from(expected | stroke) > 8].mean() > 0.995
    # ... and nowhere far from the stroke: there the editor shows what it showed before Apply.
    far = distance_from(stroke) > FAR_SHARE * size[0]
    assert far.sum() > 0.1 * far.size
    assert unchanged[far].mean() > 0.999

    # Apply again, asking for WebP: the editor still holds the stroke (all strokes count), so the cut-out is the same.
    page.get_by_role("radio", name=re.compile(r"^WebP")).check()
    page.locator("#touchup-apply").click()
    page.locator("#remove-file a[download][href$='.webp']").wait_for()
    again = Image.open(download(page, "remove-file", tmp_path, "again.webp"))
    assert again.format == "WEBP"
    assert (np.asarray(again.convert("RGBA"))[..., 3] == after).all()
    page.get_by_role("radio", name="PNG").check()

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


def remove_stroke_layer(size: tuple[int, int]) -> np.ndarray:
    """An editor layer (RGBA, the photo's size) with a red stroke across the middle of the photo."""
    layer = np.zeros((size[1], size[0], 4), np.uint8)
    colour = tuple(int(REMOVE_COLOUR[i:i + 2], 16) for i in (1, 3, 5))
    cv2.line(layer, (size[0] // 2 - 50, size[1] // 2), (size[0] // 2 + 50, size[1] // 2), (*colour, 255), 16)
    return layer


def test_apply_gives_the_tabs_edge_colours_and_format() -> None:
    """Through Apply's handler, after the Run button's: soft edges carry the subject's estimated colours (the Remove
    tab's "fast" edge colours), "off" keeps the photo's, and the download format is the tab's."""
    options = [str(PHOTO), "u2netp", "auto", True, False, 240, 10, 10, False, False, False, "#ffffff", 255,
               "png", "fast", False]
    session = cut_out_for_touch_up(*options)[4]
    photo = network_photo(Image.open(PHOTO))
    strokes = {"background": None, "layers": [remove_stroke_layer(photo.size)], "composite": None}

    view, _, file, mask_file, summary = apply_touch_up(session, strokes, True, "fast", "webp")
    assert summary.startswith("Touched up") and file.endswith(".webp")
    cutout = Image.open(file)
    assert cutout.format == "WEBP"
    pixels = np.asarray(cutout.convert("RGBA"))
    alpha = pixels[..., 3]
    assert (alpha == np.asarray(Image.open(mask_file))).all()
    assert (alpha[150, 200:250] == 0).all()  # the stroke took the middle of the face away
    rgb, colours = np.asarray(photo), pixels[..., :3].astype(np.int16)
    soft, opaque = (alpha > 0) & (alpha < 255), alpha == 255
    assert soft.sum() > 500
    # Lossless WebP: soft pixels are exactly the Remove tab's estimate, and it is not the photo's mixed colour.
    assert (colours[soft] == estimate_foreground(rgb, alpha)[soft]).all()
    assert np.abs(colours[soft] - rgb[soft]).mean() > 2
    assert (colours[opaque] == rgb[opaque]).all()

    # The editor's new view: the new cut-out on the photo, the strokes as painted (a lossless PNG layer).
    assert view["background"].size == session.canvas.size and view["composite"] is None
    assert (np.asarray(Image.open(view["layers"][0])) == strokes["layers"][0]).all()
    assert (np.asarray(view["background"]) == np.asarray(mask_overlay(session.canvas, Image.fromarray(alpha)))).all()

    _, _, file, _, _ = apply_touch_up(session, strokes, True, "off", "png")
    plain = np.asarray(Image.open(file))
    assert file.endswith(".png") and (plain[..., 3] == alpha).all()
    assert (plain[..., :3][alpha > 0] == rgb[alpha > 0]).all()
