"""Super-resolution: quality against ground truth, tiling, borders, odd sizes, transparency, limits, the tab's API.

Quality is measured the usual way: a scikit-image sample photo is the ground truth, its bicubic downscale the
input, and the upscaled result is compared with bicubic upscaling of that input (PSNR over RGB, `scale` px of
border left out of both). Pipeline tests run in f32 ("exact"); the app runs OpenVINO's default precision.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import pytest
import skimage.data
from conftest import SAMPLES
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageFilter

from benchmarks.bench_quality import SR_PHOTOS, bicubic, psnr, super_resolution_trial
from pipeline import superres
from pipeline.intake import load_image
from pipeline.models import ensure_model
from tests.corpus import write_corpus


def reference_upscale(pixels: np.ndarray, scale: int) -> np.ndarray:
    """A whole-image run written straight from ../shared/models/README.md, independent of the pipeline's tiling."""
    network = superres._NETWORKS[scale]
    factor = network.factor
    core = ov.Core()
    model = core.read_model(ensure_model(network.model))
    padded = np.pad(pixels, ((2, 2), (2, 2), (0, 0)), mode="reflect")
    height, width = padded.shape[:2]
    model.reshape({"0": [1, 3, height, width], "1": [1, 3, height * factor, width * factor]})
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    guide = cv2.resize(padded, (width * factor, height * factor), interpolation=cv2.INTER_CUBIC)

    def blob(image: np.ndarray) -> np.ndarray:
        return image[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32)

    bgr = compiled({"0": blob(padded), "1": blob(guide)})[compiled.output(0)][0]
    rgb = np.clip(np.rint(bgr.transpose(1, 2, 0)[..., ::-1] * 255), 0, 255).astype(np.uint8)
    cropped = rgb[2 * factor:-2 * factor, 2 * factor:-2 * factor]
    if factor == scale:
        return cropped
    size = (pixels.shape[1] * scale, pixels.shape[0] * scale)
    return np.asarray(Image.fromarray(cropped).resize(size, Image.Resampling.HAMMING))


@pytest.fixture(scope="module", params=[4, 3, 2], ids=lambda s: f"x{s}")
def quality_runs(request: pytest.FixtureRequest) -> tuple[int, list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]]:
    """Per photo: (name, ground truth, bicubic upscale, super-resolution upscale) at one scale."""
    scale = request.param
    return scale, [(name, *super_resolution_trial(load(), scale, "exact")) for name, load in SR_PHOTOS.items()]


def test_psnr_gain_over_bicubic(quality_runs: tuple[int, list]) -> None:
    scale, runs = quality_runs
    shave = (slice(scale, -scale), slice(scale, -scale))
    gains = {name: psnr(enhanced[shave], truth[shave]) - psnr(plain[shave], truth[shave])
             for name, truth, plain, enhanced in runs}
    mean_gain = float(np.mean(list(gains.values())))
    print(f"×{scale}: mean PSNR gain over bicubic {mean_gain:+.2f} dB; " +
          ", ".join(f"{name} {gain:+.2f}" for name, gain in gains.items()))
    assert mean_gain >= (0.8 if scale in (3, 4) else 0.0001), gains
    assert min(gains.values()) > 0, gains


def test_border_ring_as_good_as_interior(quality_runs: tuple[int, list]) -> None:
    """The outer 2 px of the result score within 3 dB of the interior (without reflect padding: about -5 dB)."""
    scale, runs = quality_runs
    differences = []
    for _, truth, _, enhanced in runs:
        height, width = truth.shape[:2]
        ring = np.ones((height, width), bool)
        ring[2:-2, 2:-2] = False
        interior = np.zeros((height, width), bool)
        interior[4 * scale:-4 * scale, 4 * scale:-4 * scale] = True
        differences.append(psnr(enhanced, truth, ring) - psnr(enhanced, truth, interior))
    assert float(np.mean(differences)) >= -3.0, differences


@pytest.mark.parametrize("scale", [4, 3, 2])
def test_tiled_equals_whole_image(scale: int) -> None:
    photo = skimage.data.chelsea()  # 451×300: one whole-image pass fits
    reference = reference_upscale(photo, scale)
    reports: list[tuple[float, str, str]] = []
    tiled = superres.upscale(Image.fromarray(photo), scale, precision="exact", tile_size=100,
                             progress=lambda done, message: reports.append(
                                 (done, message, threading.current_thread().name)))
    whole = superres.upscale(Image.fromarray(photo), scale, precision="exact", tile_size=512)
    for result in (tiled, whole):
        assert result.size == (451 * scale, 300 * scale)
        assert np.abs(np.asarray(result, np.int16) - reference).max() <= 1
    # 100 px tiles keep 68 px each: 7×5 tiles, reported in order, from the calling thread, ending at 1.
    fractions = [done for done, _, _ in reports]
    assert len(reports) == 7 * 5 + 1 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert "tile 35 of 35" in reports[-2][1]
    assert {thread for _, _, thread in reports} == {threading.current_thread().name}


@pytest.mark.parametrize("size", [(1, 1), (7, 5), (4000, 10), (10, 300)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_odd_sizes(size: tuple[int, int]) -> None:
    width, height = size
    photo = Image.fromarray(skimage.data.astronaut()).resize((max(width + 100, 512), max(height + 200, 512)))
    crop = photo.crop((100, 200, 100 + width, 200 + height))
    for scale in (2, 3, 4):
        result = superres.upscale(crop, scale, precision="exact")
        assert result.size == (width * scale, height * scale) and result.mode == "RGB"
        if size == (1, 1):  # a single pixel becomes a flat patch of its colour
            difference = np.abs(np.asarray(result, np.int16) - np.asarray(crop, np.int16))
            assert difference.max() <= 3
        else:  # the same picture as bicubic, only sharper
            assert psnr(np.asarray(result), np.asarray(bicubic(crop, scale))) > 25


def cut_out(eval_dir: Path, stem: str, size: tuple[int, int], *, soft: bool) -> tuple[Image.Image, Image.Image]:
    """A real photo and its cut-out as background removal makes it: black RGB where fully transparent."""
    photo = Image.open(eval_dir / "davis-dev" / "images" / f"{stem}.jpg").convert("RGB").resize(size)
    mask = Image.open(eval_dir / "davis-dev" / "masks" / f"{stem}.png").convert("L").resize(size)
    if soft:
        mask = mask.filter(ImageFilter.GaussianBlur(1))
    cutout = Image.composite(photo, Image.new("RGB", size), mask.point(lambda v: 255 if v else 0))
    cutout.putalpha(mask)
    return photo, cutout


@pytest.mark.parametrize("scale", [4, 3, 2])
def test_rgba_keeps_alpha_with_clean_edges(eval_dir: Path, scale: int) -> None:
    photo, cutout = cut_out(eval_dir, "090", (320, 180), soft=True)
    result = superres.upscale(cutout, scale, precision="exact")
    assert result.mode == "RGBA" and result.size == (320 * scale, 180 * scale)
    alpha = np.asarray(result.getchannel("A"), np.int16)

    # Alpha is a bicubic upscale: compare with Pillow's own (a slightly different cubic kernel).
    independent = np.asarray(bicubic(cutout.getchannel("A"), scale), np.int16)
    assert np.abs(alpha - independent).mean() < 0.5 and np.abs(alpha - independent).max() <= 16

    # Wholly transparent and wholly opaque areas (3 px away from any edge) stay exactly 0 and 255.
    small_alpha = np.asarray(cutout.getchannel("A"))
    kernel = np.ones((7, 7), np.uint8)
    clear = cv2.erode((small_alpha == 0).astype(np.uint8), kernel).repeat(scale, 0).repeat(scale, 1).astype(bool)
    solid = cv2.erode((small_alpha == 255).astype(np.uint8), kernel).repeat(scale, 0).repeat(scale, 1).astype(bool)
    assert clear.sum() > 1000 and solid.sum() > 1000
    assert (alpha[clear] == 0).all() and (alpha[solid] == 255).all()

    # Edges: the visible colours match the upscale of the uncut photo, and do not pick up the black hidden
    # under the transparent pixels the way a plain bicubic upscale of the cut-out's colours does.
    edge = (alpha >= 26) & (alpha <= 230)
    truth = np.asarray(superres.upscale(photo, scale, precision="exact"), np.float64)
    ours = np.abs(np.asarray(result.convert("RGB"), np.float64) - truth)[edge].mean()
    naive = np.abs(np.asarray(bicubic(cutout.convert("RGB"), scale), np.float64) - truth)[edge].mean()
    assert ours < 0.5 * naive, (ours, naive)


def test_hard_edged_cutout_has_no_dark_fringe(eval_dir: Path) -> None:
    photo, cutout = cut_out(eval_dir, "000", (320, 180), soft=False)
    result = superres.upscale(cutout, 4, precision="exact")
    alpha = np.asarray(result.getchannel("A"))
    edge = (alpha >= 26) & (alpha <= 230)
    truth = np.asarray(superres.upscale(photo, 4, precision="exact"), np.float64)
    ours = np.asarray(result.convert("RGB"), np.float64)[edge].mean(axis=-1)
    naive = np.asarray(bicubic(cutout.convert("RGB"), 4), np.float64)[edge].mean(axis=-1)
    reference = truth[edge].mean(axis=-1)
    # Mean brightness of the edge: the naive upscale is pulled towards black, ours stays near the photo's.
    assert abs(ours.mean() - reference.mean()) < 0.3 * abs(naive.mean() - reference.mean())


def test_grey_palette_and_alpha_modes() -> None:
    photo = Image.fromarray(skimage.data.coffee()).resize((150, 100))
    grey = photo.convert("L")
    with_alpha = grey.copy()
    with_alpha.putalpha(Image.linear_gradient("L").resize(grey.size))
    palette = photo.convert("P", palette=Image.Palette.ADAPTIVE)
    transparent_palette = palette.copy()
    transparent_palette.info["transparency"] = 0
    cases = [(grey, "L"), (with_alpha, "LA"), (palette, "RGB"), (transparent_palette, "RGBA"),
             (grey.convert("1", dither=Image.Dither.NONE), "L")]
    for image, mode in cases:
        result = superres.upscale(image, 3, precision="exact")
        assert (result.mode, result.size) == (mode, (450, 300)), image.mode
        expected = bicubic(image.convert(mode), 3)
        assert psnr(np.asarray(result), np.asarray(expected)) > 20, image.mode


def test_too_large_is_refused_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("work started on a request that had to be refused")

    monkeypatch.setattr(superres, "_upscale_colours", no_work)
    monkeypatch.setattr(superres, "_fill_hidden_colours", no_work)
    image = Image.new("RGB", (4400, 4000))
    with pytest.raises(superres.UpscaleTooLargeError) as refused:
        superres.upscale(image, 4)
    message = refused.value.message
    assert "17600×16000" in message and "281.6 MP" in message and "limit is 64 MP" in message
    # The suggested size fits, with little to spare.
    suggested = re.search(r"resize the image to at most (\d+)×(\d+)", message)
    assert suggested, message
    pixels = int(suggested[1]) * 4 * int(suggested[2]) * 4
    assert 0.99 * superres.MAX_OUTPUT_PIXELS < pixels <= superres.MAX_OUTPUT_PIXELS
    with pytest.raises(superres.UpscaleTooLargeError, match="limit is 64 MP"):
        superres.upscale(image, 2)
    with pytest.raises(superres.UpscaleTooLargeError, match="choose ×2"):
        superres.upscale(Image.new("RGB", (3000, 2500)), 4)
    with pytest.raises(superres.UpscaleError, match="choose ×2, ×3 or ×4"):
        superres.upscale(Image.new("RGB", (10, 10)), 5)


def test_every_accepted_corpus_file_upscales(tmp_path: Path) -> None:
    for case, path in write_corpus(tmp_path):
        if case.rejected_with is not None:
            continue
        image = load_image(path).image
        if case.too_large_for_x4:
            with pytest.raises(superres.UpscaleTooLargeError):
                superres.upscale(image, 4)
            continue
        result = superres.upscale(image, 4)
        assert result.size == (image.width * 4, image.height * 4) and result.mode == image.mode, case.name


def download_png(result: object) -> Image.Image:
    path = result if isinstance(result, str) else result["path"]  # type: ignore[index]
    image = Image.open(path)
    image.load()
    return image


def test_tab_through_the_api(app_url: str, tmp_path: Path, eval_dir: Path) -> None:
    client = Client(app_url, verbose=False)
    photo = SAMPLES / "chelsea.jpg"
    (before, after), png, summary = client.predict(handle_file(str(photo)), api_name="/enhance_resolution")
    result = download_png(png)
    direct = superres.upscale(load_image(photo).image, 4)  # the default scale, at the app's precision
    assert result.format == "PNG" and result.mode == "RGB" and result.size == direct.size == (1804, 1200)
    assert np.abs(np.asarray(result, np.int16) - np.asarray(direct, np.int16)).max() <= 1
    assert "1804×1200" in summary and " s." in summary
    assert download_png(before).size == download_png(after).size == (1280, 1200)  # a 100% centre crop
    assert download_png(before).format == download_png(after).format == "JPEG"  # light views, lossless file
    view = np.asarray(download_png(after), np.int16)
    crop = np.asarray(direct.crop((262, 0, 262 + 1280, 1200)), np.int16)
    assert np.abs(view - crop).mean() < 2  # quality 92: the detail being compared survives
    assert "centre crop" in summary

    _, cutout = cut_out(eval_dir, "090", (200, 120), soft=True)
    cutout_path = tmp_path / "cutout.png"
    cutout.save(cutout_path)
    _, png, summary = client.predict(handle_file(str(cutout_path)), 2, api_name="/enhance_resolution")
    result = download_png(png)
    direct = superres.upscale(cutout, 2)
    assert result.mode == "RGBA" and result.size == (400, 240) and "400×240" in summary
    assert np.abs(np.asarray(result, np.int16) - np.asarray(direct, np.int16)).max() <= 1

    large = next(path for case, path in write_corpus(tmp_path / "corpus") if case.too_large_for_x4)
    with pytest.raises(AppError, match="limit is 64 MP"):
        client.predict(handle_file(str(large)), 4, api_name="/enhance_resolution")
