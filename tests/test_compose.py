"""Superimposing: exact compositing against numpy, placement geometry, shadow, and real photos (also via the API)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from pipeline import background as removal
from pipeline.compose import ANCHORS, ShadowOptions, compose, superimpose
from pipeline.errors import ImageInputError

ROOT = Path(__file__).resolve().parent.parent
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
SUBJECT = (230, 30, 200)  # a colour no background below uses, so the subject can be found in the output
GREY = (120, 120, 120)
DAVIS_SUBJECT, DAVIS_BACKGROUND = "000.jpg", "040.jpg"  # a bear; a mountain road (another video, same size)


def reference_over(fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Straight-alpha "over" of RGBA on RGB, computed independently in float64."""
    alpha = fg[..., 3:].astype(np.float64) / 255
    return fg[..., :3] * alpha + bg.astype(np.float64) * (1 - alpha)


def hard_cutout(size: tuple[int, int], box: tuple[int, int, int, int], colour: tuple[int, int, int] = SUBJECT,
                under_transparent: tuple[int, int, int] = GREEN) -> Image.Image:
    """An opaque rectangle of ``colour`` on transparency that hides ``under_transparent`` colour."""
    pixels = np.zeros((size[1], size[0], 4), np.uint8)
    pixels[..., :3] = under_transparent
    left, top, right, bottom = box
    pixels[top:bottom, left:right] = (*colour, 255)
    return Image.fromarray(pixels, "RGBA")


def found_box(image: Image.Image, background: tuple[int, int, int] | None = GREY,
              colour: tuple[int, int, int] = SUBJECT) -> tuple[int, int, int, int]:
    """The bounding box, measured on the output, of the pixels at least half ``colour`` over a plain
    ``background`` (of exactly ``colour`` when the background is not plain)."""
    pixels = np.asarray(image.convert("RGB")).astype(np.float64)
    if background is None:
        ys, xs = np.nonzero(np.all(pixels == colour, axis=-1))
    else:
        direction = np.subtract(colour, background, dtype=np.float64)
        ys, xs = np.nonzero((pixels - background) @ direction / (direction @ direction) >= 0.5)
    assert xs.size, "subject not found in the output"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


# --- exact compositing --------------------------------------------------------------------------------------------

def test_alpha_0_keeps_background_255_keeps_foreground_and_soft_alpha_blends_exactly() -> None:
    rng = np.random.default_rng(0)
    fg = rng.integers(0, 256, (48, 64, 4), dtype=np.uint8)
    fg[..., 3] = rng.choice([0, 255, 128, 1, 254, 77], size=(48, 64))
    bg = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)

    out = np.asarray(superimpose(Image.fromarray(fg, "RGBA"), Image.fromarray(bg, "RGB"))).astype(np.int16)

    alpha = fg[..., 3]
    assert np.array_equal(out[alpha == 0], bg[alpha == 0])
    assert np.array_equal(out[alpha == 255], fg[alpha == 255][:, :3])
    expected = reference_over(fg, bg)
    half = alpha == 128
    assert np.abs(out[half] - expected[half]).max() <= 0.5 + 1e-3  # the blend, rounded to the nearest level
    assert np.abs(out - expected).max() <= 0.5 + 1e-3


def test_over_a_transparent_background_gives_the_porter_duff_result() -> None:
    rng = np.random.default_rng(1)
    fg = rng.integers(0, 256, (40, 40, 4), dtype=np.uint8)
    fg[..., 3] = rng.choice([0, 255, 128, 30], size=(40, 40))
    bg = rng.integers(0, 256, (40, 40, 4), dtype=np.uint8)
    bg[..., 3] = rng.choice([0, 255, 100], size=(40, 40))

    out = superimpose(Image.fromarray(fg, "RGBA"), Image.fromarray(bg, "RGBA"))

    assert out.mode == "RGBA"
    a, b = fg[..., 3:] / 255, bg[..., 3:] / 255
    coverage = a + b * (1 - a)
    colour = np.divide(fg[..., :3] * a + bg[..., :3] * b * (1 - a), coverage, out=np.zeros((40, 40, 3)),
                       where=coverage > 0)
    pixels = np.asarray(out).astype(np.float64)
    assert np.abs(pixels[..., 3] - coverage[..., 0] * 255).max() <= 0.5 + 1e-3
    visible = coverage[..., 0] > 0
    assert np.abs(pixels[..., :3][visible] - colour[visible]).max() <= 0.5 + 1e-3


@pytest.mark.parametrize("under_transparent", [GREEN, (0, 0, 0)], ids=["green", "black"])
@pytest.mark.parametrize("options", [{}, {"scale": 0.37, "anchor": "center"}, {"scale": 1.6, "anchor": "center"},
                                     {"feather": 5}, {"scale": 0.61, "feather": 3, "offset": (7, -5)}],
                         ids=["as-is", "shrunk", "enlarged", "feathered", "shrunk-feathered-moved"])
def test_soft_edges_have_no_halo(under_transparent: tuple[int, int, int], options: dict) -> None:
    # A red disc with a 12-pixel soft edge; under the transparent part sits a colour that must never show.
    y, x = np.mgrid[0:120, 0:160]
    radius = np.hypot(x - 80, y - 60)
    pixels = np.zeros((120, 160, 4), np.uint8)
    pixels[..., :3] = under_transparent
    pixels[..., 3] = np.clip(np.rint((45 - radius) / 12 * 255), 0, 255)
    pixels[pixels[..., 3] > 0, :3] = RED
    background = Image.new("RGB", (200, 150), BLUE)

    out = np.asarray(superimpose(Image.fromarray(pixels, "RGBA"), background, **options)).astype(int)

    # Every pixel must be a blend of red and blue alone: no green, and red + blue adding up to full.
    assert out[..., 1].max() == 0
    assert np.abs(out[..., 0] + out[..., 2] - 255).max() <= 1
    assert out[..., 0].max() == 255 and out[..., 2].max() == 255  # the subject and the background both show


# --- placement ----------------------------------------------------------------------------------------------------

CANVAS = (300, 200)
SUBJECT_BOX = (30, 20, 70, 60)  # a 40×40 subject in a 120×80 cut-out


@pytest.mark.parametrize("anchor", [a for a in ANCHORS if a != "original"])
@pytest.mark.parametrize(("scale", "offset"), [(0.5, (0, 0)), (0.2, (9, -4))])
def test_every_anchor_puts_the_subject_box_where_it_belongs(anchor: str, scale: float,
                                                             offset: tuple[int, int]) -> None:
    cutout = hard_cutout((120, 80), SUBJECT_BOX)
    out = superimpose(cutout, Image.new("RGB", CANVAS, GREY), scale=scale, anchor=anchor, offset=offset)

    side = scale * min(CANVAS)  # the 40×40 box fits scale × 300×200, so its height is the limit
    fx = {"left": 0, "center": 0.5, "right": 1}[anchor.split("-")[-1]]
    fy = {"top": 0, "center": 0.5, "bottom": 1}[anchor.split("-")[0]]
    left, top = fx * (CANVAS[0] - side) + offset[0], fy * (CANVAS[1] - side) + offset[1]
    # An offset may push the subject past an edge of the canvas.
    expected = np.clip((left, top, left + side, top + side), 0, (*CANVAS, *CANVAS))
    assert out.size == CANVAS
    assert np.allclose(found_box(out), expected, atol=1)


def test_original_anchor_keeps_the_subject_where_the_photo_had_it() -> None:
    cutout = hard_cutout((120, 80), SUBJECT_BOX)

    same_size = superimpose(cutout, Image.new("RGB", (120, 80), GREY))
    assert found_box(same_size) == SUBJECT_BOX

    # The 120×80 frame fitted into 300×200 is scaled 2.5×: the subject keeps its place in that frame.
    scaled = compose(cutout, Image.new("RGB", CANVAS, GREY))
    assert found_box(scaled.image) == (75, 50, 175, 150) == scaled.subject_box

    resized = superimpose(cutout, Image.new("RGB", CANVAS, GREY), scale=0.3)  # 60×60, same centre
    assert np.allclose(found_box(resized), (95, 70, 155, 130), atol=1)


def test_the_subject_is_not_cut_off_unless_placed_so() -> None:
    at_the_edge = hard_cutout((120, 80), (90, 10, 120, 70))
    # Enlarged where it stands it would stick out on the right; it is moved in instead.
    inside = superimpose(at_the_edge, Image.new("RGB", CANVAS, GREY), scale=0.9)
    left, top, right, bottom = found_box(inside)
    assert right == CANVAS[0] and top >= 0 and bottom <= CANVAS[1]
    assert np.isclose(bottom - top, 0.9 * CANVAS[1], atol=1)

    moved_out = superimpose(at_the_edge, Image.new("RGB", CANVAS, GREY), scale=0.9, offset=(50, 0))
    assert found_box(moved_out)[2] == CANVAS[0]
    assert found_box(moved_out)[2] - found_box(moved_out)[0] == right - left - 50  # the user's offset cuts it


def coordinate_background(width: int = 200, height: int = 100) -> Image.Image:
    """Red encodes x, green encodes y: where a background pixel lands can be read off the output."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    pixels = np.stack([(x + 0.5) / width * 255, (y + 0.5) / height * 255, np.zeros_like(x)], axis=-1)
    return Image.fromarray(np.rint(pixels).astype(np.uint8), "RGB")


@pytest.mark.parametrize("fit", ["cover", "contain", "stretch"])
def test_every_fit_mode_maps_the_background_and_keeps_the_subject_box(fit: str) -> None:
    cutout = hard_cutout((100, 100), (20, 60, 40, 90))
    result = compose(cutout, coordinate_background(), fit=fit, output_size="foreground")
    out = np.asarray(result.image).astype(np.float64)

    # Where each output pixel centre should sample the 200×100 background, in background pixels.
    centres = np.arange(100) + 0.5
    if fit == "cover":  # scaled 1×, the 200 px width cropped to the middle 100
        bx, by, rows = centres + 50, centres, slice(0, 100)
    elif fit == "stretch":
        bx, by, rows = centres * 2, centres, slice(0, 100)
    else:  # contain: scaled ½ to 100×50, centred with 25 rows of padding above and below
        bx, by, rows = centres * 2, (centres[25:75] - 25) * 2, slice(25, 75)
        assert np.ptp(out[:25].reshape(-1, 3), axis=0).max() == 0  # the padding is one colour
    expected_red = np.broadcast_to(bx / 200 * 255, (100, 100))[rows]
    expected_green = np.broadcast_to((by / 100 * 255)[:, None], expected_red.shape)
    inner = (slice(3, -3), slice(3, -3))  # resampling at the image border is allowed to differ
    background_only = np.asarray(cutout)[rows, :, 3][inner] == 0
    assert np.abs(out[rows, :, 0][inner] - expected_red[inner])[background_only].max() <= 3
    assert np.abs(out[rows, :, 1][inner] - expected_green[inner])[background_only].max() <= 3

    assert result.subject_box == (20, 60, 40, 90) == found_box(result.image, background=None)


def test_background_size_output_fits_the_photo_frame_inside() -> None:
    result = compose(hard_cutout((100, 100), (20, 60, 40, 90)), coordinate_background())
    assert result.image.size == (200, 100)
    assert np.array_equal(np.asarray(result.plate), np.asarray(coordinate_background()))  # not resampled
    assert found_box(result.image, background=None) == (70, 60, 90, 90)  # frame kept 1×, centred: 50 px right


# --- effects ------------------------------------------------------------------------------------------------------

def test_shadow_lies_under_the_subject_offset_and_never_on_top() -> None:
    box = (30, 30, 60, 60)
    cutout = hard_cutout((100, 100), box, colour=(250, 250, 250))
    background = Image.new("RGB", (100, 100), (200, 200, 200))
    shadow = ShadowOptions(offset=(10, 12), blur=1.5, opacity=0.6)

    out = np.asarray(superimpose(cutout, background, shadow=shadow)).astype(np.float64)

    subject = np.zeros((100, 100), bool)
    subject[30:60, 30:60] = True
    assert np.all(out[subject] == 250)  # the shadow never darkens the subject
    darkness = (200 - out[..., 0]) * ~subject
    assert darkness.min() >= 0  # a shadow only darkens
    ys, xs = np.nonzero(darkness)
    weights = darkness[ys, xs]
    centre = (np.average(xs, weights=weights), np.average(ys, weights=weights))
    # The visible shadow is the L-shaped part of the shifted square outside the subject: its weight sits below
    # and to the right of the subject's centre (44.5, 44.5) plus the offset.
    assert centre[0] > 44.5 + 10 and centre[1] > 44.5 + 12
    assert out[66, 50, 0] == pytest.approx(200 * (1 - 0.6), abs=2)  # inside the shadow, away from its edge
    # Up and left of the subject, beyond the blur's reach, the background is untouched.
    assert np.all(out[:36, :36][~subject[:36, :36]] == 200)


def test_feather_softens_the_edge_inwards_only() -> None:
    cutout = hard_cutout((100, 100), (20, 20, 80, 80), colour=(255, 255, 255))
    background = Image.new("RGB", (100, 100), (0, 0, 0))

    out = np.asarray(superimpose(cutout, background, feather=8)).astype(np.float64)[..., 0]

    outside = np.ones((100, 100), bool)
    outside[20:80, 20:80] = False
    assert np.all(out[outside] == 0)  # nothing spreads outwards
    assert np.all(out[36:64, 36:64] == 255)  # well inside the subject it stays solid
    row = out[50, 20:51]
    assert row[0] < 40 and np.all(np.diff(row) >= 0)  # the edge ramps up from nearly transparent


def test_unusable_foregrounds_get_a_clear_message() -> None:
    with pytest.raises(ImageInputError, match="fully transparent"):
        superimpose(Image.new("RGBA", (10, 10), (255, 0, 0, 0)), (0, 0, 0))
    with pytest.raises(ImageInputError, match="original photo"):
        superimpose(hard_cutout((50, 50), (10, 10, 20, 20)), background_mode="blur")


def test_every_bundled_background_is_listed_with_its_licence() -> None:
    licences = (ROOT / "assets" / "LICENSES.md").read_text()
    backgrounds = sorted((ROOT / "assets" / "backgrounds").glob("*.jpg"))
    assert 1 <= len(backgrounds) <= 4
    for path in backgrounds:
        assert f"backgrounds/{path.name}" in licences


# --- real photos --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bear(eval_dir: Path) -> tuple[Image.Image, Image.Image]:
    """A real photo and its u2netp cut-out."""
    photo = Image.open(eval_dir / "davis-dev" / "images" / DAVIS_SUBJECT).convert("RGB")
    return photo, removal.remove_background(photo, model="u2netp").image


def test_real_cutout_on_a_real_background_matches_numpy(bear: tuple[Image.Image, Image.Image],
                                                        eval_dir: Path) -> None:
    photo, cutout = bear
    background = Image.open(eval_dir / "davis-dev" / "images" / DAVIS_BACKGROUND).convert("RGB")

    from_photo = np.asarray(superimpose(photo, background, remove_model="u2netp")).astype(np.float64)

    expected = reference_over(np.asarray(cutout), np.asarray(background))
    assert np.abs(from_photo - expected).max() <= 0.5 + 1e-3
    alpha = np.asarray(cutout)[..., 3]
    assert (alpha == 255).mean() > 0.05 and (alpha == 0).mean() > 0.3  # a real subject on a real background


def test_blurred_original_blurs_only_the_background(bear: tuple[Image.Image, Image.Image]) -> None:
    photo, cutout = bear
    alpha = np.asarray(cutout)[..., 3]

    sharp = np.asarray(superimpose(photo, blur_strength=0, remove_model="u2netp")).astype(np.float64)
    blurred = np.asarray(superimpose(photo, blur_strength=2, remove_model="u2netp")).astype(np.float64)

    assert np.array_equal(blurred[alpha == 255], np.asarray(cutout)[alpha == 255][:, :3])
    assert np.abs(sharp - reference_over(np.asarray(cutout), np.asarray(photo))).max() <= 0.5 + 1e-3

    def detail(pixels: np.ndarray) -> float:  # mean absolute difference between horizontal neighbours
        grey = pixels.mean(axis=-1)
        return float(np.abs(np.diff(grey, axis=1))[alpha[:, 1:] == 0].mean())

    assert detail(blurred) < 0.25 * detail(np.asarray(photo).astype(np.float64))


def test_superimpose_endpoint_returns_the_full_resolution_composite(
        app_url: str, bear: tuple[Image.Image, Image.Image], eval_dir: Path, tmp_path: Path) -> None:
    _, cutout = bear
    cutout_file = tmp_path / "bear-cutout.png"
    cutout.save(cutout_file)
    background_file = eval_dir / "grabcut" / "images" / "sheep.jpg"  # another photo, of another size
    client = Client(app_url, verbose=False)

    _, png, jpeg, timing = client.predict(handle_file(str(cutout_file)), handle_file(str(background_file)),
                                          api_name="/superimpose")

    direct = superimpose(cutout, Image.open(background_file).convert("RGB"))
    served = Image.open(png)
    assert served.size == direct.size == Image.open(background_file).size
    difference = np.abs(np.asarray(served.convert("RGB")).astype(int) - np.asarray(direct).astype(int))
    assert difference.max() <= 1
    assert np.abs(np.asarray(Image.open(jpeg)).astype(int) - np.asarray(direct).astype(int)).mean() < 4  # JPEG q92
    assert timing.startswith("Done in")

    with pytest.raises(AppError, match="background"):
        client.predict(handle_file(str(cutout_file)), api_name="/superimpose")
