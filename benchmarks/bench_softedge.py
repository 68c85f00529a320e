"""Soft edges: alpha and colour at the edge against soft ground truth, as matting benchmarks build theirs.

    python -m benchmarks.bench_softedge           # u2net on every pair of both sets (about 15 minutes on 2 cores)
    python -m benchmarks.bench_softedge --quick   # u2netp on every 8th pair, 1 MP timing only
    python -m benchmarks.bench_softedge --timing  # the decontamination time table only (1 and 12 MP)

The evaluation sets' masks are binary, which rewards hard edges. Here, as in Composition-1k, each photo's subject
is given a soft edge and composited onto a vivid backdrop, so the true alpha and the true composite on any other
backdrop are known exactly:

- true alpha: the binary mask (GrabCut: its unknown band counted as background) blurred, by a Gaussian of σ 1, 2
  or 3 px, or by a 9 px motion blur at 30°;
- true foreground colour: the photo's inside the mask; outside it, the colour of the nearest pixel inside (so
  the soft fringe carries the subject's colour, not the photo's old background);
- input: true alpha · foreground + (1 − alpha) · a vivid backdrop (a green, a magenta-to-orange gradient, or a
  field of saturated colour blobs).

Each photo gets one soft variant and one backdrop, in turn, so every combination is covered across a set. Each
method cuts the input out and ``pipeline.compose.compose`` puts the cut-out onto two other backdrops (blue, and
the bundled bokeh photo), which are compared with the true composites there. Scores per photo, then means per set:
alpha SAD (sum of |α − α_true| over the photo, in thousands, α in 0..1), alpha MSE (over the photo, ×10³), and the
edge band's colour error: the mean absolute difference (0–255 levels, over RGB) from the true composite over the
pixels within 6 px of the mask's boundary, averaged over the two target backdrops.

Methods, all with the same model file: the app's default cut-out (``remove_background``: edge refinement and
``decontaminate="fast"``), the same with ``decontaminate="off"``, and the anchors ``rembg.remove`` plain and with
``decontaminate=True`` (rembg's own onnxruntime session). Timings: the extra seconds decontamination adds to a
12 MP cut-out, ours against rembg's ``decontaminate_cutout`` of the same alpha.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import rembg
from PIL import Image
from rembg import bg as rembg_bg
from scipy import ndimage

from benchmarks.bench_background import eval_pairs, scaled_photo
from benchmarks.harness import timings
from pipeline import models
from pipeline.background import remove_background
from pipeline.compose import compose
from pipeline.matting import decontaminated_cutout

ROOT = Path(__file__).resolve().parent.parent
EVAL_SETS = ("davis-dev", "grabcut")
VARIANTS = ("gaussian σ1", "gaussian σ2", "gaussian σ3", "motion 9 px")
BAND_PX = 6
MOTION_LENGTH = 9
MOTION_ANGLE = 30.0
TARGETS = ("blue", "bokeh")
QUICK_STEP = 8
METHODS = ("ours (default)", "ours, decontaminate off", "rembg.remove", "rembg.remove decontaminate=True")


def soft_alpha(binary: np.ndarray, variant: str) -> np.ndarray:
    """The true alpha (float32 0..1) made from a binary mask (bool H×W) by one of :data:`VARIANTS`."""
    mask = binary.astype(np.float32)
    if variant.startswith("gaussian"):
        sigma = float(variant.removeprefix("gaussian σ"))
        return cv2.GaussianBlur(mask, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    kernel = np.zeros((MOTION_LENGTH, MOTION_LENGTH), np.float32)
    kernel[MOTION_LENGTH // 2] = 1
    rotation = cv2.getRotationMatrix2D(((MOTION_LENGTH - 1) / 2, (MOTION_LENGTH - 1) / 2), MOTION_ANGLE, 1)
    kernel = cv2.warpAffine(kernel, rotation, kernel.shape[::-1])
    return cv2.filter2D(mask, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)


def true_foreground(photo: np.ndarray, binary: np.ndarray) -> np.ndarray:
    """The photo's colours inside the mask; outside, the nearest inside pixel's (float32 0..255 H×W×3)."""
    _, (rows, columns) = ndimage.distance_transform_edt(~binary, return_indices=True)
    return photo[rows, columns].astype(np.float32)


def source_backdrop(index: int, size: tuple[int, int]) -> np.ndarray:
    """One of three vivid backdrops the subject is first composited onto (float32 0..255 H×W×3)."""
    width, height = size
    kind = index % 3
    if kind == 0:  # a chroma-key-like green, slightly uneven
        ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        return np.broadcast_to(np.array([20, 200, 60], np.float32) + ramp * np.array([60, 40, -40], np.float32),
                               (height, width, 3)).copy()
    if kind == 1:  # magenta to orange, left to right
        ramp = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
        return np.broadcast_to(np.array([230, 0, 200], np.float32) * (1 - ramp)
                               + np.array([255, 140, 0], np.float32) * ramp, (height, width, 3)).copy()
    blobs = np.random.default_rng(index).choice([0, 255], size=(6, 8, 3)).astype(np.float32)  # saturated colours
    return np.clip(cv2.resize(blobs, (width, height), interpolation=cv2.INTER_CUBIC), 0, 255)


def target_backdrops(size: tuple[int, int]) -> dict[str, Image.Image]:
    """The backdrops the cut-outs are put on: blue and the bundled bokeh photo, the photo's size."""
    bokeh = Image.open(ROOT / "assets" / "backgrounds" / "bokeh.jpg").convert("RGB")
    return {"blue": Image.new("RGB", size, (0, 90, 255)), "bokeh": bokeh.resize(size, Image.Resampling.BICUBIC)}


@dataclass(frozen=True)
class SoftCase:
    """One soft-truth case: the input photo and what a perfect cut-out would give."""

    name: str
    variant: str
    photo: Image.Image  # the input: the subject with a soft edge on a vivid backdrop (RGB)
    alpha: np.ndarray  # true alpha, float32 0..1
    foreground: np.ndarray  # true foreground colour, float32 0..255 H×W×3
    band: np.ndarray  # bool H×W: within BAND_PX of the mask's boundary


def soft_cases(eval_set: str, step: int = 1) -> Iterator[SoftCase]:
    """The soft-truth cases of every ``step``-th pair of ``eval_set``: variant and backdrop in turn."""
    for index, (stem, photo, truth) in enumerate(eval_pairs(eval_set, step)):
        binary = truth > 128
        if not binary.any() or binary.all():
            continue
        variant = VARIANTS[index % len(VARIANTS)]
        alpha = soft_alpha(binary, variant)
        foreground = true_foreground(np.asarray(photo), binary)
        backdrop = source_backdrop(index, photo.size)
        composite = alpha[..., None] * foreground + (1 - alpha[..., None]) * backdrop
        distance_out = ndimage.distance_transform_edt(~binary)
        distance_in = ndimage.distance_transform_edt(binary)
        band = (distance_out <= BAND_PX) & (distance_in <= BAND_PX)  # each is 0 on the other side
        yield SoftCase(f"{eval_set}/{stem}", variant, Image.fromarray(np.rint(composite).astype(np.uint8)),
                       alpha, foreground, band)


@dataclass(frozen=True)
class Score:
    sad: float  # thousands
    mse: float  # ×10³
    band_error: float  # 0–255 levels


def score(case: SoftCase, cutout: Image.Image, targets: dict[str, Image.Image]) -> Score:
    """A cut-out (RGBA) of ``case.photo`` scored against the case's truth, composited by pipeline.compose."""
    alpha = np.asarray(cutout.getchannel("A"), np.float32) / 255
    errors = []
    for target in targets.values():
        result = np.asarray(compose(cutout, target).image, np.float32)
        true = case.alpha[..., None] * case.foreground + (1 - case.alpha[..., None]) * np.asarray(target, np.float32)
        errors.append(float(np.abs(result - np.rint(true))[case.band].mean()))
    difference = alpha - case.alpha
    return Score(float(np.abs(difference).sum() / 1000), float((difference**2).mean() * 1000), float(np.mean(errors)))


def cutout_methods(model: str) -> dict[str, Callable[[Image.Image], Image.Image]]:
    """Each method of :data:`METHODS`: photo → RGBA cut-out."""
    models.ensure_model(model)
    session = rembg.new_session(model)
    return {
        METHODS[0]: lambda photo: remove_background(photo, model=model).image,
        METHODS[1]: lambda photo: remove_background(photo, model=model, decontaminate="off").image,
        METHODS[2]: lambda photo: rembg.remove(photo, session=session),
        METHODS[3]: lambda photo: rembg.remove(photo, session=session, decontaminate=True),
    }


def evaluate(model: str, step: int = 1,
             methods: dict[str, Callable[[Image.Image], Image.Image]] | None = None,
             ) -> dict[str, dict[str, dict[str, list[Score]]]]:
    """Scores per set, method and variant (``"all"`` holds every case of the set)."""
    methods = methods or cutout_methods(model)
    results: dict[str, dict[str, dict[str, list[Score]]]] = {}
    for eval_set in EVAL_SETS:
        per_method: dict[str, dict[str, list[Score]]] = {name: {"all": []} for name in methods}
        for case in soft_cases(eval_set, step):
            targets = target_backdrops(case.photo.size)
            for name, cut in methods.items():
                result = score(case, cut(case.photo), targets)
                per_method[name]["all"].append(result)
                per_method[name].setdefault(case.variant, []).append(result)
        results[eval_set] = per_method
    return results


def means(scores: list[Score]) -> Score:
    return Score(*(float(np.mean([getattr(s, field) for s in scores])) for field in ("sad", "mse", "band_error")))


def quality_tables(model: str, step: int) -> None:
    results = evaluate(model, step)
    print(f"### Against soft truth ({model})\n")
    header = " | ".join(f"{s} SAD | {s} MSE×10³ | {s} band colour error" for s in EVAL_SETS)
    print(f"| method | {header} |")
    print("|---|" + "---|" * 3 * len(EVAL_SETS))
    for method in METHODS:
        cells = []
        for eval_set in EVAL_SETS:
            mean = means(results[eval_set][method]["all"])
            cells.append(f"{mean.sad:.2f} | {mean.mse:.2f} | {mean.band_error:.2f}")
        print(f"| {method} | {' | '.join(cells)} |")
    print()
    print("| set | ours ÷ rembg: SAD | ours ÷ rembg decontaminate: band colour error | cases |")
    print("|---|---|---|---|")
    for eval_set in EVAL_SETS:
        ours, plain, dc = (means(results[eval_set][method]["all"]) for method in (METHODS[0], METHODS[2], METHODS[3]))
        print(f"| {eval_set} | {ours.sad / plain.sad:.3f} | {ours.band_error / dc.band_error:.3f} "
              f"| {len(results[eval_set][METHODS[0]]['all'])} |")
    print("\nBy soft variant (both sets), band colour error: ours / rembg / rembg decontaminate; SAD: ours / rembg\n")
    print("| variant | band error ours | band error rembg | band error rembg dc | SAD ours | SAD rembg |")
    print("|---|---|---|---|---|---|")
    for variant in VARIANTS:
        row = {method: means([s for eval_set in EVAL_SETS for s in results[eval_set][method].get(variant, [])])
               for method in METHODS}
        print(f"| {variant} | {row[METHODS[0]].band_error:.2f} | {row[METHODS[2]].band_error:.2f} "
              f"| {row[METHODS[3]].band_error:.2f} | {row[METHODS[0]].sad:.2f} | {row[METHODS[2]].sad:.2f} |")
    print(f"\nBand: pixels within {BAND_PX} px of the mask's boundary; colour error in 0–255 levels over RGB, mean of "
          f"the {' and '.join(TARGETS)} backdrops. SAD in thousands (α 0..1), MSE over the whole photo.\n", flush=True)


def timing_table(megapixels: tuple[int, ...], runs: int) -> None:
    print("### Decontamination time (same alpha, u2net cut-out's)\n")
    print("| photo | cut-out, decontaminate off s | extra: ours (fast) s | extra: rembg decontaminate_cutout s "
          "| rembg ÷ ours |")
    print("|---|---|---|---|---|")
    for size in megapixels:
        photo = scaled_photo(size)
        alpha = remove_background(photo, decontaminate="off").mask
        plain = min(timings(lambda photo=photo: remove_background(photo, decontaminate="off"), runs))
        ours = statistics.median(timings(lambda photo=photo, alpha=alpha: decontaminated_cutout(photo, alpha), runs))
        off = statistics.median(timings(
            lambda photo=photo, alpha=alpha: decontaminated_cutout(photo, alpha, "off"), runs))
        theirs = timings(lambda photo=photo, alpha=alpha: rembg_bg.decontaminate_cutout(photo, alpha), 1)[0]
        extra = max(ours - off, 0.0)
        print(f"| {size} MP ({photo.width}×{photo.height}) | {plain:.2f} | {extra:.3f} | {theirs:.2f} "
              f"| {theirs / max(extra, 1e-3):.0f}× |", flush=True)
    print("\nExtra time: our decontaminated cut-out minus the plain cut-out of the same alpha (median of the runs); "
          "rembg's is one run.\n")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_softedge", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="u2netp, every 8th pair, 1 MP timing only")
    parser.add_argument("--timing", action="store_true", help="the decontamination time table only")
    args = parser.parse_args()
    if args.timing:
        timing_table((1, 12), runs=3)
        return
    if args.quick:
        quality_tables("u2netp", QUICK_STEP)
        timing_table((1,), runs=2)
    else:
        quality_tables("u2net", 1)
        timing_table((1, 12), runs=3)
    print(f"Every {QUICK_STEP}th pair in --quick." if args.quick else "Every pair of both sets.")


if __name__ == "__main__":
    main()
