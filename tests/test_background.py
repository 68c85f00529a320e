"""Background removal with the real U²-Net models on real photos (u2netp for speed, u2net where it is the default).

u2netp's quality and its edge refinement are scored on the whole evaluation sets (../shared/eval): DAVIS-dev
(173 pairs) and GrabCut (50 pairs, mask value 128 = unknown, ignored). To keep the file within its time budget
(about 3 minutes on 2 otherwise idle cores), the comparison with rembg's own onnxruntime mask runs on all of
GrabCut and every 4th DAVIS-dev pair (44), and u2net's fast-vs-exact check on every 12th DAVIS-dev pair (15) and
every 3rd GrabCut pair (17); all subsets are evenly spaced in file-name order.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import rembg
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageOps
from scipy.ndimage import binary_erosion

from benchmarks.bench_background import eval_pairs, iou_mae
from pipeline import background, models
from pipeline.background import (
    AVAILABLE_MODELS,
    SESSION_CACHE_SIZE,
    list_models,
    model_mask,
    refine_mask,
    rembg_session,
    remove_background,
    resolve_precision,
)
from pipeline.errors import ModelUnavailableError

SETS = ("davis-dev", "grabcut")
U2NET_SUBSET_STEP = {"davis-dev": 12, "grabcut": 3}  # 15 + 17 evenly spaced pairs
ONNXRUNTIME_STEP = {"davis-dev": 4, "grabcut": 1}  # 44 + 50 pairs compared with rembg's own mask
EQUALITY_CHECK_STEP = 10  # every 10th pair also runs the default setting, to check it is the exact one


@pytest.fixture(scope="module")
def u2netp_eval(eval_dir: Path) -> dict[str, dict[str, list]]:
    """Per set: differences from rembg's own mask (onnxruntime), scores of the exact and refined masks."""
    models.ensure_model("u2netp")
    onnxruntime_session = rembg.new_session("u2netp")
    results: dict[str, dict[str, list]] = {}
    for name in SETS:
        per_set: dict[str, list] = {"diff": [], "exact": [], "refined": [], "default_equal": []}
        for index, (_, photo, truth) in enumerate(eval_pairs(name)):
            exact = model_mask(photo, model="u2netp", precision="exact")
            if index % ONNXRUNTIME_STEP[name] == 0:
                reference = rembg.remove(photo, session=onnxruntime_session, only_mask=True)
                per_set["diff"].append(np.abs(np.asarray(reference, dtype=np.int16) - exact))
            per_set["exact"].append(iou_mae(exact, truth))
            per_set["refined"].append(iou_mae(refine_mask(photo, exact), truth))
            if index % EQUALITY_CHECK_STEP == 0:
                per_set["default_equal"].append(np.array_equal(model_mask(photo, model="u2netp"), exact))
        results[name] = per_set
    return results


def mean_scores(scores: list[tuple[float, float]]) -> tuple[float, float]:
    iou, mae = np.mean(scores, axis=0)
    return float(iou), float(mae)


def test_exact_network_matches_onnxruntime(eval_dir: Path) -> None:
    """The OpenVINO network at f32 gives onnxruntime's raw output to float rounding."""
    photo = next(eval_pairs("grabcut"))[1]
    ours = rembg_session("u2netp", "exact")
    theirs = rembg.new_session("u2netp")
    feeds = theirs.normalize(photo, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), (320, 320))
    expected = theirs.inner_session.run(None, feeds)
    got = ours.inner_session.run(None, feeds)
    assert len(got) == len(expected) == 7
    for mine, reference in zip(got, expected, strict=True):
        assert mine.shape == reference.shape
        assert np.abs(mine - reference).max() < 1e-4


def test_exact_mask_equals_rembg(u2netp_eval: dict[str, dict[str, list]], eval_dir: Path) -> None:
    """``precision="exact"`` reproduces ``rembg.remove(..., only_mask=True)`` within a grey level.

    rembg truncates the network's output to 8 bits on its 320×320 grid before a Lanczos upscale, so the ~1e-5
    float differences between two runtimes flip a handful of grid values by one level; where two neighbours flip
    together the upscale can make that 2 at a pixel or two (onnxruntime with its graph optimisations switched off
    differs from itself in the same way).
    """
    for name in SETS:
        diffs = u2netp_eval[name]["diff"]
        pairs = len(list((eval_dir / name / "images").iterdir()))
        assert len(diffs) == -(-pairs // ONNXRUNTIME_STEP[name])
        assert len(u2netp_eval[name]["exact"]) == pairs  # quality is scored on every pair
        for diff in diffs:
            assert diff.max() <= 2
            assert (diff > 1).mean() <= 1e-5
        assert np.mean([(diff > 0).mean() for diff in diffs]) < 1e-3


def test_default_quality_u2netp(u2netp_eval: dict[str, dict[str, list]]) -> None:
    """u2netp's default is its exact precision (bf16 costs it 0.009 IoU on DAVIS-dev), and its quality holds."""
    assert resolve_precision("u2netp") == "exact"
    for name in SETS:
        assert all(u2netp_eval[name]["default_equal"])
    assert mean_scores(u2netp_eval["davis-dev"]["exact"])[0] >= 0.70
    assert mean_scores(u2netp_eval["grabcut"]["exact"])[0] >= 0.78


def test_refine_edges_beats_plain(u2netp_eval: dict[str, dict[str, list]]) -> None:
    """Edge refinement: lower mean MAE than the plain mask on both sets, IoU no worse than plain − 0.005."""
    for name in SETS:
        plain_iou, plain_mae = mean_scores(u2netp_eval[name]["exact"])
        refined_iou, refined_mae = mean_scores(u2netp_eval[name]["refined"])
        assert refined_mae < plain_mae, name
        assert refined_iou >= plain_iou - 0.005, name


def test_u2net_default_fast_within_quality_of_exact(eval_dir: Path) -> None:
    """u2net's default precision before its INT8 network is built is bf16 ("fast"), with mean IoU and MAE within
    0.005 of exact (INT8's own bound: tests/test_quantize.py)."""
    assert resolve_precision("u2net") in ("fast", "int8")
    for name in SETS:
        scores: dict[str, list[tuple[float, float]]] = {"fast": [], "exact": []}
        for _, photo, truth in eval_pairs(name, U2NET_SUBSET_STEP[name]):
            for precision in scores:
                scores[precision].append(iou_mae(model_mask(photo, model="u2net", precision=precision), truth))
        fast, exact = mean_scores(scores["fast"]), mean_scores(scores["exact"])
        assert abs(fast[0] - exact[0]) <= 0.005 and abs(fast[1] - exact[1]) <= 0.005, (name, fast, exact)


@pytest.fixture(scope="module")
def photo(eval_dir: Path) -> Image.Image:
    return Image.open(eval_dir / "grabcut" / "images" / "person1.jpg").convert("RGB")


@pytest.fixture(scope="module")
def plain(photo: Image.Image) -> np.ndarray:
    return model_mask(photo, model="u2netp")


def test_cutout_keeps_size_and_colours(photo: Image.Image, plain: np.ndarray) -> None:
    cutout = remove_background(photo, model="u2netp")
    assert cutout.image.mode == "RGBA" and cutout.image.size == photo.size
    assert cutout.mask.mode == "L" and cutout.mask.size == photo.size
    pixels = np.asarray(cutout.image)
    alpha = pixels[..., 3]
    hard = (alpha == 0) | (alpha == 255)  # the soft band's colours are estimated (tests/test_softedge.py)
    assert np.array_equal(pixels[hard, :3], np.asarray(photo)[hard])  # straight alpha: colours not darkened
    kept = remove_background(photo, model="u2netp", decontaminate="off").image
    assert np.array_equal(np.asarray(kept)[..., :3], np.asarray(photo))
    assert np.array_equal(alpha, np.asarray(cutout.mask))
    assert np.array_equal(np.asarray(cutout.mask), refine_mask(photo, plain))


def test_refine_edges_option(photo: Image.Image, plain: np.ndarray, eval_dir: Path) -> None:
    unrefined = np.asarray(remove_background(photo, model="u2netp", refine_edges=False).mask)
    refined = np.asarray(remove_background(photo, model="u2netp", refine_edges=True).mask)
    assert np.array_equal(unrefined, plain)
    assert not np.array_equal(refined, plain)
    # Closer to the truth (the evaluation sets score this on average; on this photo it holds too), the subject
    # where it was, and the alpha changed only along its edge (within 5 % of the photo's long side).
    truth = np.asarray(Image.open(eval_dir / "grabcut" / "masks" / "person1.png").convert("L"))
    (plain_iou, plain_mae), (refined_iou, refined_mae) = iou_mae(plain, truth), iou_mae(refined, truth)
    assert refined_mae < plain_mae and refined_iou >= plain_iou
    assert ((refined >= 128) == (plain >= 128)).mean() > 0.99
    edge = cv2.morphologyEx((plain >= 128).view(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    changed = np.abs(refined.astype(np.int16) - plain) > 32
    assert changed.sum() > 500
    assert (cv2.distanceTransform((~edge).view(np.uint8), cv2.DIST_L2, 3)[changed] <= 0.05 * max(photo.size)).all()


def test_refine_mask_checks_its_input(photo: Image.Image, plain: np.ndarray) -> None:
    with pytest.raises(ValueError, match="mask"):
        refine_mask(photo, plain[:-1])


@pytest.mark.parametrize("size", [(1155, 866), (2999, 2001)])  # work grids of factor 2 and 5 (blocks of 4–5 px)
def test_refinement_at_full_size_matches_the_dense_computation(photo: Image.Image, size: tuple[int, int],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The full-size pass computes only the pixels the colours near them could change; the same coefficients
    applied densely, by another route (cv2.resize of the coefficients, the multiply-add at every pixel), give
    the same mask to ±1 level (the sparse pass samples on cv2.remap's 1/32-pixel grid)."""
    # Grain at full size (as a photo has, and an upscaled one has not), so a pixel's colour is not its block's.
    grain = np.random.default_rng(0).integers(-48, 49, (size[1], size[0], 3))
    scaled = Image.fromarray(np.clip(np.asarray(photo.resize(size, Image.Resampling.BICUBIC)) + grain, 0, 255)
                             .astype(np.uint8))
    captured = {}
    apply = background._apply_coefficients

    def capture(pixels: np.ndarray, slope: np.ndarray, offset: np.ndarray) -> np.ndarray:
        captured.update(slope=slope, offset=offset)
        return apply(pixels, slope, offset)

    monkeypatch.setattr(background, "_apply_coefficients", capture)
    sparse = refine_mask(scaled, model_mask(scaled, model="u2netp"))
    coefficients = cv2.resize(np.dstack([captured["slope"], captured["offset"]]), size, interpolation=cv2.INTER_LINEAR)
    dense = np.clip(np.rint(coefficients[..., 3] + (coefficients[..., :3] * np.asarray(scaled)).sum(axis=-1)), 0, 255)
    difference = np.abs(sparse.astype(np.int16) - dense)
    assert difference.max() <= 1 and (difference > 0).mean() < 0.002
    assert ((sparse > 0) & (sparse < 255)).sum() > 1000  # an edge was computed, not all known


def test_only_mask(photo: Image.Image, plain: np.ndarray) -> None:
    result = remove_background(photo, model="u2netp", refine_edges=False, only_mask=True)
    assert result.image.mode == "L" and result.image.size == photo.size
    assert np.array_equal(np.asarray(result.image), plain)


def test_post_process_mask_as_rembg(photo: Image.Image, plain: np.ndarray) -> None:
    mask = np.asarray(remove_background(photo, model="u2netp", refine_edges=False, post_process_mask=True).mask)
    expected = np.asarray(rembg.remove(photo, session=rembg_session("u2netp"), only_mask=True,
                                       post_process_mask=True))
    assert np.array_equal(mask, expected)
    assert set(np.unique(mask)) <= {0, 255}
    assert ((mask >= 128) == (plain >= 128)).mean() > 0.98


def test_alpha_matting(photo: Image.Image) -> None:
    small = photo.resize((photo.width // 2, photo.height // 2), Image.Resampling.LANCZOS)
    plain = model_mask(small, model="u2netp")
    options = {"alpha_matting_foreground_threshold": 200, "alpha_matting_background_threshold": 20,
               "alpha_matting_erode_size": 6}
    matted = remove_background(small, model="u2netp", refine_edges=False, alpha_matting=True, **options)
    assert matted.image.mode == "RGBA" and matted.image.size == small.size
    # The same as rembg's own alpha matting with the same session.
    expected = rembg.remove(small, session=rembg_session("u2netp"), alpha_matting=True, **options)
    assert np.array_equal(np.asarray(matted.image), np.asarray(expected))
    alpha = np.asarray(matted.mask)
    assert np.array_equal(alpha, np.asarray(matted.image)[..., 3])
    # The trimap's sure regions (thresholds, then eroded) come out opaque and transparent.
    structure = np.ones((6, 6), dtype=bool)
    sure_foreground = binary_erosion(plain > 200, structure=structure)
    sure_background = binary_erosion(plain < 20, structure=structure, border_value=1)
    assert sure_foreground.any() and sure_background.any()
    assert (alpha[sure_foreground] == 255).all() and (alpha[sure_background] == 0).all()
    assert not np.array_equal(alpha, plain)
    wider = remove_background(small, model="u2netp", refine_edges=False, alpha_matting=True,
                              **{**options, "alpha_matting_erode_size": 20})
    assert not np.array_equal(np.asarray(wider.mask), alpha)


@pytest.mark.parametrize("bgcolor", [(0, 0, 255, 255), (0, 255, 0, 128)])
def test_background_colour_fills_the_transparent_pixels(photo: Image.Image, bgcolor: tuple[int, int, int, int]) -> None:
    cutout = remove_background(photo, model="u2netp", refine_edges=False)
    filled = remove_background(photo, model="u2netp", refine_edges=False, bgcolor=bgcolor)
    alpha = np.asarray(cutout.mask)
    pixels = np.asarray(filled.image).astype(int)
    assert filled.image.size == photo.size
    assert (alpha == 0).any() and (alpha == 255).any()
    assert (pixels[alpha == 0] == bgcolor).all()
    assert (pixels[alpha == 255] == np.asarray(cutout.image)[alpha == 255]).all()
    assert np.array_equal(np.asarray(filled.mask), alpha)
    # Soft edges: the cut-out (its estimated colours) over the colour, in proportion to alpha (RGB; alpha-weighted
    # when the fill is see-through).
    soft = (alpha > 0) & (alpha < 255)
    a = alpha[soft][:, None] / 255
    fill_a = bgcolor[3] / 255
    out_a = a + fill_a * (1 - a)
    expected = (np.asarray(cutout.image)[soft][:, :3] * a + np.array(bgcolor[:3]) * fill_a * (1 - a)) / out_a
    assert np.abs(pixels[soft][:, :3] - expected).max() <= 2
    assert np.abs(pixels[soft][:, 3] - out_a[:, 0] * 255).max() <= 1


def test_exif_orientation_is_applied(photo: Image.Image, tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90° clockwise
    photo.save(path, quality=95, exif=exif)
    stored = Image.open(path)
    upright = ImageOps.exif_transpose(Image.open(path))
    assert upright.size == (stored.height, stored.width)
    cutout = remove_background(stored, model="u2netp", refine_edges=False)
    assert cutout.image.size == upright.size
    assert np.array_equal(np.asarray(cutout.mask), model_mask(upright.convert("RGB"), model="u2netp"))


def test_transparent_input_stays_transparent(photo: Image.Image) -> None:
    rgba = photo.convert("RGBA")
    alpha = np.full((photo.height, photo.width), 255, dtype=np.uint8)
    alpha[:, : photo.width // 3] = 0
    rgba.putalpha(Image.fromarray(alpha))
    mask = np.asarray(remove_background(rgba, model="u2netp", refine_edges=False).mask)
    assert (mask[:, : photo.width // 3] == 0).all()
    flattened = Image.new("RGB", photo.size, (255, 255, 255))
    flattened.paste(rgba, mask=rgba.getchannel("A"))
    assert np.array_equal(mask[:, photo.width // 3:], model_mask(flattened, model="u2netp")[:, photo.width // 3:])


def test_unavailable_models_fail_clearly(photo: Image.Image) -> None:
    with pytest.raises(ModelUnavailableError, match="not available offline"):
        remove_background(photo, model="u2net_human_seg")
    with pytest.raises(ModelUnavailableError, match="online service"):
        remove_background(photo, model="withoutbg")
    with pytest.raises(ModelUnavailableError, match=r"Unknown model 'u2nett'.*u2net, u2netp"):
        remove_background(photo, model="u2nett")
    with pytest.raises(ValueError, match="precision"):
        remove_background(photo, model="u2netp", precision="best")  # type: ignore[arg-type]


def test_every_rembg_session_is_listed() -> None:
    infos = list_models()
    assert sorted(info.name for info in infos) == sorted(rembg.sessions.sessions_names)
    available = {info.name for info in infos if info.available}
    assert {"u2net", "u2netp"} <= available
    assert "u2net_human_seg" not in available and "sam" not in available
    assert AVAILABLE_MODELS[:2] == ("u2net", "u2netp")
    assert all(info.note for info in infos)


def test_sessions_are_built_once_shared_and_evicted(photo: Image.Image) -> None:
    background._sessions.clear()
    sessions: list[object] = []
    masks: list[np.ndarray] = []

    def work() -> None:
        sessions.append(rembg_session("u2netp", "fast"))
        masks.append(model_mask(photo, model="u2netp", precision="fast"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sessions) == 4 and all(session is sessions[0] for session in sessions)
    serial = model_mask(photo, model="u2netp", precision="fast")
    assert all(np.array_equal(mask, serial) for mask in masks)
    assert rembg_session("u2netp", "fast") is sessions[0]
    assert rembg_session("u2netp", "auto") is rembg_session("u2netp", "exact")  # auto resolves to exact for u2netp

    assert SESSION_CACHE_SIZE == 3
    rembg_session("u2net", "fast")
    rembg_session("u2net", "exact")  # a fourth session: the least recently used one goes
    assert list(background._sessions) == [("u2netp", "exact"), ("u2net", "fast"), ("u2net", "exact")]
    assert rembg_session("u2netp", "fast") is not sessions[0]  # built again


def test_tab_through_the_api(app_url: str, eval_dir: Path, tmp_path: Path) -> None:
    client = Client(app_url, verbose=False)
    photo_path = eval_dir / "grabcut" / "images" / "person1.jpg"
    photo = Image.open(photo_path).convert("RGB")
    truth = np.asarray(Image.open(eval_dir / "grabcut" / "masks" / "person1.png").convert("L"))

    (before, after), png, mask_png, summary = client.predict(handle_file(str(photo_path)),
                                                             api_name="/remove_background")
    assert Path(before).is_file() and Path(after).is_file() and "Done in" in summary
    assert Path(png).name == "person1-cutout.png"
    with Image.open(png) as downloaded:
        assert downloaded.format == "PNG" and downloaded.mode == "RGBA" and downloaded.size == photo.size
        pixels = np.asarray(downloaded)
    expected = remove_background(photo)  # the tab's defaults: u2net, auto precision, refined edges
    assert np.abs(pixels[..., 3].astype(int) - np.asarray(expected.mask)).max() <= 1
    # Opaque pixels keep the photo's colours; soft ones carry the estimated foreground colour, as in-process.
    opaque = pixels[..., 3] == 255
    assert np.array_equal(pixels[opaque, :3], np.asarray(photo)[opaque])
    same_alpha = (pixels[..., 3] == np.asarray(expected.mask)) & (pixels[..., 3] > 0)
    colour_gap = np.abs(pixels[same_alpha, :3].astype(int) - np.asarray(expected.image)[same_alpha, :3])
    assert colour_gap.mean() < 0.5 and colour_gap.max() <= 8
    assert iou_mae(pixels[..., 3], truth)[0] > 0.95
    with Image.open(mask_png) as mask:
        assert np.array_equal(np.asarray(mask.convert("L")), pixels[..., 3])

    _, filled_png, _, _ = client.predict(handle_file(str(photo_path)), fill_background=True,
                                         background_colour="#00ff00", api_name="/remove_background")
    with Image.open(filled_png) as filled:
        filled_pixels = np.asarray(filled.convert("RGBA"))
    assert (filled_pixels[pixels[..., 3] == 0] == (0, 255, 0, 255)).all()

    with pytest.raises(AppError, match="not available offline"):
        client.predict(handle_file(str(photo_path)), model="u2net_human_seg", api_name="/remove_background")
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not a picture")
    with pytest.raises(AppError, match="not an image"):
        client.predict(handle_file(str(not_an_image)), api_name="/remove_background")
