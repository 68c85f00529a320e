"""Touch-up with keep/remove strokes: a simulated user fixes the worst u2netp cut-outs of ../shared/eval.

The strokes are derived from the ground truth by a fixed rule (:func:`stroke_inside`): a short stroke through the
deepest point of the largest region to correct, along that region's main axis, painted only inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SAMPLES
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from benchmarks.bench_background import eval_pairs, iou_mae
from pipeline.background import model_mask, refine_mask
from pipeline.touchup import stroke_mask, strokes_by_colour, touch_up

WORST_COUNT = 12  # the issue asks for at least 10
SPREAD_STEP = 18  # agreeing strokes also go on every 18th photo of the ranking beyond the worst ones
STROKE_LENGTH = 0.08  # of the photo's longer side
MIN_REGION_PIXELS = 20


@dataclass(frozen=True)
class EvalPhoto:
    name: str
    photo: Image.Image
    truth: np.ndarray  # 0 background, 255 subject, 128 unknown (GrabCut set: ignored when scoring)
    prior: np.ndarray  # the plain u2netp mask
    iou: float


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    return iou_mae(mask, truth)[0]


@pytest.fixture(scope="module")
def ranking(eval_dir: Path) -> list[EvalPhoto]:
    """Every eval photo with its plain u2netp mask (the network's output, no refinement), worst IoU first."""
    photos = []
    for name in ("davis-dev", "grabcut"):
        for stem, photo, truth in eval_pairs(name):
            prior = model_mask(photo, model="u2netp", precision="fast")  # 4× faster than "exact" for u2netp
            photos.append(EvalPhoto(f"{name}/{stem}", photo, truth, prior, iou(prior, truth)))
    assert len(photos) >= 200
    return sorted(photos, key=lambda item: item.iou)


def stroke_inside(region: np.ndarray) -> np.ndarray | None:
    """A user's short stroke on the largest part of ``region``: through its deepest point, along its main axis.

    The stroke is a line of 8 % of the photo's longer side, as thick as a brush of 1/80 of the shorter side,
    clipped to the part (the simulated user paints only on what is wrong). None if the part is tiny.
    """
    count, parts, stats, _ = cv2.connectedComponentsWithStats(region.astype(np.uint8), connectivity=8)
    if count < 2:
        return None
    largest = parts == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if largest.sum() < MIN_REGION_PIXELS:
        return None
    depth = cv2.distanceTransform(largest.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    ys, xs = np.nonzero(largest)
    _, axes = np.linalg.eigh(np.cov(np.stack([xs, ys]).astype(float)))
    dx, dy = axes[:, -1]
    height, width = region.shape
    half = STROKE_LENGTH / 2 * max(height, width)
    stroke = np.zeros(region.shape, np.uint8)
    cv2.line(stroke, (round(x - dx * half), round(y - dy * half)), (round(x + dx * half), round(y + dy * half)),
             1, 2 * max(1, round(min(height, width) / 80)) + 1)
    return (stroke > 0) & largest


def fixing_strokes(item: EvalPhoto) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Keep on the largest missed region, remove on the largest wrongly kept one."""
    valid, subject, kept = item.truth != 128, item.truth > 128, item.prior >= 128
    return stroke_inside(subject & ~kept & valid), stroke_inside(kept & ~subject & valid)


def agreeing_strokes(item: EvalPhoto) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Keep deep inside the correctly kept subject, remove deep inside the correctly removed background."""
    valid, subject, kept = item.truth != 128, item.truth > 128, item.prior >= 128
    return stroke_inside(subject & kept & valid), stroke_inside(~subject & ~kept & valid)


def touched_up_iou(item: EvalPhoto, keep: np.ndarray | None, remove: np.ndarray | None) -> float:
    cutout = touch_up(item.photo, keep, remove, prior=item.prior, model="u2netp")
    return iou(np.asarray(cutout.mask), item.truth)


def test_two_strokes_fix_the_worst_cutouts(ranking: list[EvalPhoto]) -> None:
    worst = ranking[:WORST_COUNT]
    before, after = [], []
    for item in worst:
        keep, remove = fixing_strokes(item)
        assert keep is not None or remove is not None, item.name
        before.append(item.iou)
        after.append(touched_up_iou(item, keep, remove))
        print(f"{item.name}: IoU {before[-1]:.3f} -> {after[-1]:.3f}")
    print(f"mean IoU of the {len(worst)} worst: {np.mean(before):.3f} -> {np.mean(after):.3f}")
    assert np.mean(after) >= np.mean(before) + 0.20


def test_agreeing_strokes_do_not_hurt(ranking: list[EvalPhoto]) -> None:
    photos = ranking[:WORST_COUNT] + ranking[WORST_COUNT::SPREAD_STEP]
    for item in photos:
        keep, remove = agreeing_strokes(item)  # no keep stroke where nothing of the subject was kept
        assert remove is not None, item.name
        untouched = touched_up_iou(item, None, None)
        touched = touched_up_iou(item, keep, remove)
        print(f"{item.name}: IoU {untouched:.3f} -> {touched:.3f}")
        assert touched >= untouched - 0.01, item.name


def test_large_photo_is_segmented_small_and_brought_back_sharp(ranking: list[EvalPhoto]) -> None:
    """A photo above ``work_pixels`` gives the cut-out it would at the small size, at full size."""
    item = next(item for item in ranking if item.name == "grabcut/scissors")
    keep, remove = fixing_strokes(item)
    small = touch_up(item.photo, keep, remove, prior=item.prior, model="u2netp")
    size = (item.photo.width * 3, item.photo.height * 3)
    large = touch_up(item.photo.resize(size, Image.Resampling.BICUBIC), upscale_nearest(keep, 3),
                     upscale_nearest(remove, 3), prior=cv2.resize(item.prior, size, interpolation=cv2.INTER_LINEAR),
                     model="u2netp", work_pixels=item.photo.width * item.photo.height)
    assert large.mask.size == size and large.image.size == size
    large_iou = iou(np.asarray(large.mask), upscale_nearest(item.truth, 3))
    small_iou = iou(np.asarray(small.mask), item.truth)
    print(f"{item.name}: IoU at its own size {small_iou:.3f}, ×3 through the small size {large_iou:.3f}")
    assert large_iou >= small_iou - 0.03
    assert large_iou >= item.iou + 0.3


def upscale_nearest(array: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(array, factor, axis=0), factor, axis=1)


@pytest.fixture(scope="module")
def cat() -> tuple[Image.Image, np.ndarray]:
    """A real photo and its plain u2netp mask."""
    photo = Image.open(SAMPLES / "chelsea.jpg").convert("RGB")
    return photo, model_mask(photo, model="u2netp")


def disc(size: tuple[int, int], centre: tuple[int, int], radius: int) -> np.ndarray:
    y, x = np.mgrid[0:size[1], 0:size[0]]
    return np.hypot(x - centre[0], y - centre[1]) <= radius


def test_stroke_layer_formats() -> None:
    painted = disc((40, 30), (12, 15), 6)
    green = np.zeros((30, 40, 3), np.uint8)
    green[painted] = (50, 204, 112)
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., :3] = 255  # colour where nothing is painted: only the alpha marks the stroke
    rgba[painted] = (204, 50, 50, 255)
    layers = {
        "bool array": painted,
        "0/1 array": painted.astype(np.uint8),
        "0/255 array": painted.astype(np.uint8) * 255,
        "RGB array": green,
        "RGBA array": rgba,
        "L image": Image.fromarray(painted.astype(np.uint8) * 255),
        "1 image": Image.fromarray(painted),
        "RGB image": Image.fromarray(green),
        "RGBA image": Image.fromarray(rgba),
        "LA image": Image.fromarray(rgba).convert("LA"),
        "P image with an RGBA palette": Image.fromarray(rgba).quantize(),
        "opaque RGBA image (read by colour)": Image.fromarray(green).convert("RGBA"),
    }
    for name, layer in layers.items():
        assert (stroke_mask(layer, (40, 30)) == painted).all(), name
    assert not stroke_mask(None, (40, 30)).any()
    assert stroke_mask(None, (40, 30)).shape == (30, 40)
    with pytest.raises(ValueError, match="stroke layer"):
        stroke_mask(np.zeros((30, 40, 5), np.uint8), (40, 30))


def test_editor_layers_split_by_brush_colour() -> None:
    size = (40, 30)
    first = np.zeros((30, 40, 4), np.uint8)
    first[disc(size, (10, 10), 5)] = (50, 204, 112, 255)  # green brush: keep
    first[disc(size, (30, 20), 5)] = (204, 50, 50, 255)  # red brush: remove
    second = np.zeros((30, 40, 4), np.uint8)
    second[disc(size, (30, 20), 2)] = (50, 204, 112, 128)  # half-transparent green over the red stroke
    keep, remove = strokes_by_colour([first, Image.fromarray(second)])
    assert (keep == disc(size, (10, 10), 5) | disc(size, (30, 20), 2)).all()
    assert (remove == disc(size, (30, 20), 5) & ~disc(size, (30, 20), 2)).all()
    with pytest.raises(ValueError, match="RGBA"):
        strokes_by_colour([first[..., :3]])


def test_stroke_layer_of_another_size_is_stretched() -> None:
    painted = disc((20, 15), (6, 7), 4)
    assert (stroke_mask(painted, (40, 30)) == upscale_nearest(painted, 2)).all()
    assert (stroke_mask(Image.fromarray(painted), (60, 45)) == upscale_nearest(painted, 3)).all()


def test_no_strokes_leave_the_mask_unchanged(cat: tuple[Image.Image, np.ndarray]) -> None:
    photo, prior = cat
    transparent = Image.new("RGBA", photo.size, (255, 255, 255, 0))
    for keep, remove in ((None, None), (transparent, transparent), (np.zeros(prior.shape), None)):
        cutout = touch_up(photo, keep, remove, prior=prior, refine_edges=False)
        assert (np.asarray(cutout.mask) == prior).all()
    assert (np.asarray(touch_up(photo, None, None, prior=prior).mask) == refine_mask(photo, prior)).all()
    default = touch_up(photo, None, None, model="u2netp", refine_edges=False)
    assert (np.asarray(default.mask) == prior).all()
    # A pixel painted in both layers counts as neither.
    both = disc(photo.size, (100, 100), 20)
    assert (np.asarray(touch_up(photo, both, both, prior=prior, refine_edges=False).mask) == prior).all()


def test_strokes_are_hard_constraints_and_the_cutout_carries_the_mask(cat: tuple[Image.Image, np.ndarray]) -> None:
    photo, prior = cat
    keep = disc(photo.size, (425, 200), 8)  # the room behind the cat
    remove = disc(photo.size, (photo.width // 2, photo.height // 2), 8)  # the cat's face
    assert prior[keep].max() < 128 and prior[remove].min() >= 128
    cutout = touch_up(photo, keep, remove, prior=prior)
    mask = np.asarray(cutout.mask)
    assert (mask[keep] == 255).all() and (mask[remove] == 0).all()
    assert cutout.image.mode == "RGBA" and cutout.image.size == photo.size
    assert (np.asarray(cutout.image)[..., 3] == mask).all()
    assert (np.asarray(cutout.image)[..., :3] == np.asarray(photo)).all()


def test_transparent_areas_of_the_photo_stay_transparent(cat: tuple[Image.Image, np.ndarray]) -> None:
    photo, prior = cat
    with_alpha = photo.convert("RGBA")
    alpha = np.full(prior.shape, 255, np.uint8)
    alpha[:, :40] = 0
    with_alpha.putalpha(Image.fromarray(alpha))
    keep = disc(photo.size, (20, 150), 10)  # painted on the transparent strip
    mask = np.asarray(touch_up(with_alpha, keep, None, model="u2netp").mask)
    assert (mask[:, :40] == 0).all()


def test_a_semi_transparent_photo_keeps_its_own_colours(cat: tuple[Image.Image, np.ndarray]) -> None:
    """As in remove_background: the cut-out's colours are the photo's, not the network's white-flattened view."""
    photo, prior = cat
    with_alpha = photo.convert("RGBA")
    with_alpha.putalpha(128)
    cutout = touch_up(with_alpha, None, disc(photo.size, (20, 150), 10), prior=prior)
    assert (np.asarray(cutout.image)[..., :3] == np.asarray(photo)).all()
    assert np.asarray(cutout.mask).max() <= 128


def test_a_stroke_on_an_empty_mask_needs_no_model_of_the_subject(cat: tuple[Image.Image, np.ndarray]) -> None:
    photo, _ = cat
    empty = np.zeros((photo.height, photo.width), np.uint8)
    keep = np.zeros(empty.shape, bool)
    keep[100, 100:102] = True  # two pixels: too few for GrabCut's colour model of the subject
    mask = np.asarray(touch_up(photo, keep, None, prior=empty, refine_edges=False).mask)
    assert (mask == np.where(keep, 255, 0)).all()
    assert (np.asarray(touch_up(photo, None, keep, prior=empty, refine_edges=False).mask) == 0).all()


def test_prior_of_the_wrong_size_is_refused(cat: tuple[Image.Image, np.ndarray]) -> None:
    photo, prior = cat
    with pytest.raises(ValueError, match="prior"):
        touch_up(photo, None, None, prior=prior[:-1])


def test_touch_up_endpoint(app_url: str, cat: tuple[Image.Image, np.ndarray], tmp_path: Path) -> None:
    """Scripts send the photo and the keep/remove strokes as image files; the cut-out is what the pipeline gives."""
    photo, prior = cat
    keep = disc(photo.size, (425, 200), 8)
    remove = disc(photo.size, (photo.width // 2, photo.height // 2), 8)
    Image.fromarray(keep.astype(np.uint8) * 255).save(tmp_path / "keep.png")
    # The remove layer as the editor gives it: transparent RGBA, painted red, at half the photo's size.
    half = np.zeros((photo.height // 2, photo.width // 2, 4), np.uint8)
    half[remove[::2, ::2][:half.shape[0], :half.shape[1]]] = (220, 38, 38, 255)
    Image.fromarray(half).save(tmp_path / "remove.png")
    client = Client(app_url, verbose=False)
    _, cutout_png, mask_png, summary = client.predict(
        handle_file(SAMPLES / "chelsea.jpg"), handle_file(tmp_path / "keep.png"), handle_file(tmp_path / "remove.png"),
        model="u2netp", api_name="/touch_up")
    cutout = Image.open(cutout_png)
    assert cutout.mode == "RGBA" and cutout.size == photo.size
    expected = touch_up(photo, keep, Image.open(tmp_path / "remove.png"), prior=prior)
    assert (np.asarray(cutout)[..., 3] == np.asarray(expected.mask)).all()
    assert (np.asarray(Image.open(mask_png).convert("L")) == np.asarray(expected.mask)).all()
    assert "s" in summary

    with pytest.raises(AppError, match="stroke"):
        client.predict(handle_file(SAMPLES / "chelsea.jpg"), None, None, api_name="/touch_up")
