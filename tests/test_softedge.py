"""Soft edges: foreground colour estimation, rembg's options, and the quality bars against soft truth.

The bars (issue 13) are asserted with u2net on a subset of both evaluation sets (every SUBSET_STEP-th pair),
built as benchmarks/bench_softedge.py builds its cases: the app's default cut-out has alpha SAD no higher than
plain ``rembg.remove`` and an edge-band colour error at most 0.9× that of ``rembg.remove(decontaminate=True)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from rembg import bg as rembg_bg
from rembg import matting as rembg_matting

from benchmarks.bench_softedge import EVAL_SETS, METHODS, evaluate, means
from pipeline import models
from pipeline.background import remove_background
from pipeline.compose import compose
from pipeline.errors import ModelUnavailableError
from pipeline.matting import VITMATTE_MODEL, decontaminated_cutout, estimate_foreground

SUBSET_STEP = 16
# The bar: 0.9× rembg decontaminate's band error. On this subset (u2net INT8) 0.80 (DAVIS-dev) and 0.79
# (GrabCut), SAD 0.78× / 0.72× plain rembg's. On every pair see docs/BENCHMARKS.md (GrabCut's SAD 0.98×, decided
# by two photos this subset leaves out, where INT8's mask is weaker than f32's: see pipeline/quantize.py).
BAND_BAR = 0.9


def visible_error(colours: np.ndarray, alpha: np.ndarray, foreground: np.ndarray) -> float:
    """Mean colour error over the soft pixels, weighted by alpha: what shows in a composite (levels)."""
    soft = (alpha > 0) & (alpha < 255)
    weight = alpha[soft, None] / 255
    return float((weight * np.abs(colours[soft].astype(np.float32) - foreground[soft])).mean())


def two_colour_edge(width: int = 600, height: int = 400, ramp: float = 20) -> tuple[np.ndarray, ...]:
    """A photo mixing an orange subject and a blue background across a soft vertical edge: (photo, alpha, F)."""
    columns = np.arange(width, dtype=np.float32)[None, :].repeat(height, axis=0)
    alpha = np.clip((columns - width / 2) / ramp + 0.5, 0, 1)
    foreground = np.broadcast_to(np.array([230, 150, 30], np.float32), (height, width, 3))
    background = np.broadcast_to(np.array([20, 60, 230], np.float32), (height, width, 3))
    photo = alpha[..., None] * foreground + (1 - alpha[..., None]) * background
    return np.rint(photo).astype(np.uint8), np.rint(alpha * 255).astype(np.uint8), foreground


def test_estimate_foreground_recovers_the_subject_colour() -> None:
    photo, alpha, foreground = two_colour_edge()
    estimate = estimate_foreground(photo, alpha)
    error, kept = visible_error(estimate, alpha, foreground), visible_error(photo, alpha, foreground)
    assert error < 2 < kept / 10  # within a level or two of the truth; the photo's own colour is far off
    hard = (alpha == 0) | (alpha == 255)
    assert np.array_equal(estimate[hard], photo[hard])  # only soft pixels change


def test_estimate_foreground_large_photo_uses_work_size() -> None:
    photo, alpha, foreground = two_colour_edge(3000, 2000, ramp=60)
    estimate = estimate_foreground(photo, alpha)
    assert visible_error(estimate, alpha, foreground) < 0.1 * visible_error(photo, alpha, foreground)


@pytest.mark.parametrize("shape", [(10, 30000), (30000, 7), (1, 1)])
def test_estimate_foreground_thin_strips(shape: tuple[int, int]) -> None:
    """A strip thinner than the reduction factor still gets one work pixel across (it once failed in cv2.resize)."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    alpha = rng.integers(1, 255, shape, dtype=np.uint8)
    foreground = estimate_foreground(photo, alpha)
    assert foreground.shape == photo.shape and foreground.dtype == np.uint8


def test_estimate_foreground_hard_alpha_is_the_photo() -> None:
    photo, alpha, _ = two_colour_edge()
    hard = np.where(alpha >= 128, 255, 0).astype(np.uint8)
    assert estimate_foreground(photo, hard) is photo
    with pytest.raises(ValueError):
        estimate_foreground(photo, hard[:-1])


def test_decontaminate_modes() -> None:
    photo_array, alpha_array, _ = two_colour_edge(300, 200)
    photo, alpha = Image.fromarray(photo_array), Image.fromarray(alpha_array)
    rembg_mode = decontaminated_cutout(photo, alpha, "rembg")
    assert np.array_equal(np.asarray(rembg_mode), np.asarray(rembg_bg.decontaminate_cutout(photo, alpha)))
    off = np.asarray(decontaminated_cutout(photo, alpha, "off"))
    assert np.array_equal(off[..., :3], photo_array) and np.array_equal(off[..., 3], alpha_array)
    with pytest.raises(ValueError):
        decontaminated_cutout(photo, alpha, "yes")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sample(eval_dir) -> Image.Image:
    return Image.open(eval_dir / "grabcut" / "images" / "flower.jpg").convert("RGB")


def test_remove_background_decontaminates_by_default(sample: Image.Image) -> None:
    default = remove_background(sample, model="u2netp")
    off = remove_background(sample, model="u2netp", decontaminate="off")
    assert np.array_equal(np.asarray(default.mask), np.asarray(off.mask))
    alpha = np.asarray(default.mask)
    soft = (alpha > 0) & (alpha < 255)
    assert soft.any()
    expected = estimate_foreground(np.asarray(sample), alpha)
    assert np.array_equal(np.asarray(default.image)[..., :3], expected)
    # A photo given to compose is cut out the same way.
    composite = compose(sample, (0, 90, 255), remove_model="u2netp").image
    assert np.array_equal(np.asarray(composite), np.asarray(compose(default.image, (0, 90, 255)).image))
    with pytest.raises(ValueError):
        remove_background(sample, model="u2netp", decontaminate="on")  # type: ignore[arg-type]


def test_vitmatte_needs_its_model(sample: Image.Image) -> None:
    with pytest.raises(ModelUnavailableError) as error:
        remove_background(sample, model="u2netp", vitmatte=True)
    message = str(error.value)
    assert "vitmatte-small-distinctions-646.onnx" in message and message.startswith("vitmatte ")
    assert message.count(". ") == 0  # one sentence


@pytest.fixture(scope="module")
def soft_scores() -> dict:
    return evaluate("u2net", SUBSET_STEP)


@pytest.mark.parametrize("eval_set", EVAL_SETS)
def test_soft_truth_bars(soft_scores: dict, eval_set: str) -> None:
    ours, off, plain, dc = (means(soft_scores[eval_set][method]["all"]) for method in METHODS)
    assert ours.sad <= plain.sad, (ours, plain)
    assert ours.band_error <= BAND_BAR * dc.band_error, (ours, dc)
    assert ours.band_error < off.band_error  # the colour estimate itself helps


def test_vitmatte_in_the_store_as_rembg_has_it() -> None:
    """The store's ViTMatte file: rembg's default checkpoint, with rembg's URL, checksum and file name."""
    (file,) = models.MODELS[VITMATTE_MODEL].files
    variant = rembg_matting.VARIANTS[rembg_matting.DEFAULT_VARIANT]
    assert file.url == f"{rembg_matting.BASE_URL}/{variant['fname']}"
    assert file.checksum == f"sha256:{variant['sha256']}"
    assert file.relpath == f"rembg/{variant['fname']}"  # rembg finds it under U2NET_HOME
