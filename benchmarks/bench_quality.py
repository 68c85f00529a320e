"""Quality: background removal on ../shared/eval, and super-resolution against bicubic on scikit-image photos.

    python -m benchmarks.bench_quality           # every evaluation pair (about 10 minutes on 2 cores)
    python -m benchmarks.bench_quality --quick   # every 8th pair, alpha matting on every 24th

Background removal, per model (u2netp, u2net) and setting, on DAVIS-dev (173 pairs) and GrabCut (50 pairs; mask
value 128 is an unknown band and is left out): mean IoU at threshold 128, mean absolute error of the soft mask
(0–1), and mean F-beta (β² = 0.3, precision weighted as in salient-object detection) at threshold 128. Settings:
"exact" (f32: rembg's own mask), "fast" (OpenVINO's default precision, bf16 here), "int8" (NNCF's quantization,
pipeline.quantize: built first if it is not in the store), the app's default precision plain, with the edge
refinement (the app's default), and with rembg's alpha matting (default thresholds) of the plain mask instead.
"fast" and "int8" use the quick pre- and post-processing of pipeline.background; "exact" is rembg's own.

Super-resolution: each photo's bicubic downscale is upscaled again, by the network and by bicubic interpolation,
and both are compared with the photo (PSNR over RGB, and SSIM; ``scale`` px of border left out). The gain is the
network's score minus bicubic's, averaged over the photos.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import skimage.data
from PIL import Image
from skimage.metrics import structural_similarity

from benchmarks.bench_background import eval_pairs, iou_mae
from pipeline import quantize, superres
from pipeline.background import FAST_MODEL, model_mask, refine_mask, remove_background, resolve_precision

EVAL_SETS = ("davis-dev", "grabcut")
MODELS = (FAST_MODEL, "u2net")
BETA_SQUARED = 0.3
QUICK_STEP = 8  # --quick: every 8th pair of each set
QUICK_MATTING_STEP = 24  # --quick: alpha matting on every 24th pair

SR_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": skimage.data.astronaut,
    "coffee": skimage.data.coffee,
    "chelsea": skimage.data.chelsea,
    "rocket": skimage.data.rocket,
    "motorcycle_left": lambda: skimage.data.stereo_motorcycle()[0],
    "motorcycle_right": lambda: skimage.data.stereo_motorcycle()[1],
    "immunohistochemistry": skimage.data.immunohistochemistry,
    "hubble_deep_field": skimage.data.hubble_deep_field,
}
SR_PRECISIONS: tuple[superres.Precision, ...] = ("fast", "exact")


def f_beta(mask: np.ndarray, truth: np.ndarray, beta_squared: float = BETA_SQUARED) -> float:
    """F-beta of a soft mask thresholded at 128 against ground truth (128 = unknown, ignored), as ``iou_mae``."""
    valid = truth != 128
    subject = truth[valid] > 128
    predicted = mask[valid] >= 128
    hits = int((predicted & subject).sum())
    if hits == 0:  # nothing right: perfect only when there was nothing to find and nothing was found
        return float(not subject.any() and not predicted.any())
    precision, recall = hits / predicted.sum(), hits / subject.sum()
    return float((1 + beta_squared) * precision * recall / (beta_squared * precision + recall))


def mask_scores(mask: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(IoU, MAE, F-beta) of one mask."""
    return *iou_mae(mask, truth), f_beta(mask, truth)


@dataclass(frozen=True)
class MaskRow:
    model: str
    setting: str
    pairs: dict[str, int]  # per evaluation set: how many pairs were scored
    scores: dict[str, tuple[float, float, float]]  # per evaluation set: mean (IoU, MAE, F-beta)


def removal_rows(step: int = 1, matting_step: int = 1) -> list[MaskRow]:
    """One row per model and setting: mean scores on every ``step``-th pair (alpha matting: ``matting_step``-th)."""
    rows = []
    precisions = ("exact", "fast", "int8")
    for model in MODELS:
        quantize.ensure_int8(model)
        default = resolve_precision(model)
        settings = (*precisions, f"default ({default})", f"default ({default}) + refine edges",
                    f"default ({default}) + alpha matting")
        per_setting: dict[str, dict[str, list[tuple[float, float, float]]]] = {
            setting: {name: [] for name in EVAL_SETS} for setting in settings}
        for name in EVAL_SETS:
            for index, (_, photo, truth) in enumerate(eval_pairs(name, step)):
                masks = {precision: model_mask(photo, model=model, precision=precision) for precision in precisions}
                masks[settings[3]] = masks[default]
                masks[settings[4]] = refine_mask(photo, masks[default])
                if index * step % matting_step == 0:
                    with contextlib.redirect_stdout(io.StringIO()):  # pymatting prints solver warnings
                        masks[settings[5]] = np.asarray(remove_background(
                            photo, model=model, refine_edges=False, alpha_matting=True).mask)
                for setting, mask in masks.items():
                    per_setting[setting][name].append(mask_scores(mask, truth))
        for setting, per_set in per_setting.items():
            rows.append(MaskRow(model, setting, {name: len(scores) for name, scores in per_set.items()},
                                {name: tuple(np.mean(scores, axis=0)) for name, scores in per_set.items()}))
    return rows


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio of two 8-bit images in dB (over the pixels ``where`` is true, if given)."""
    error = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    mse = error[where].mean() if where is not None else error.mean()
    return float(10 * np.log10(255**2 / mse))


def bicubic(image: Image.Image, scale: int) -> Image.Image:
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.BICUBIC)


def super_resolution_trial(photo: np.ndarray, scale: int,
                           precision: superres.Precision) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The photo (cropped to a multiple of ``scale``), and its bicubic downscale upscaled by bicubic and by ours."""
    height, width = photo.shape[0] // scale * scale, photo.shape[1] // scale * scale
    truth = photo[:height, :width]
    small = Image.fromarray(truth).resize((width // scale, height // scale), Image.Resampling.BICUBIC)
    return truth, np.asarray(bicubic(small, scale)), np.asarray(superres.upscale(small, scale, precision=precision))


@dataclass(frozen=True)
class SuperResolutionRow:
    scale: int
    precision: str
    psnr: tuple[float, float]  # mean over the photos: (bicubic, ours) in dB
    ssim: tuple[float, float]
    worst_psnr_gain: float  # the smallest gain over bicubic of any photo


def super_resolution_rows() -> list[SuperResolutionRow]:
    photos = {name: load() for name, load in SR_PHOTOS.items()}
    rows = []
    for scale in (2, 3, 4):
        for precision in SR_PRECISIONS:
            psnrs, ssims = [], []
            for photo in photos.values():
                truth, plain, enhanced = super_resolution_trial(photo, scale, precision)
                shave = (slice(scale, -scale), slice(scale, -scale))
                truth, plain, enhanced = truth[shave], plain[shave], enhanced[shave]
                psnrs.append((psnr(plain, truth), psnr(enhanced, truth)))
                ssims.append(tuple(structural_similarity(result, truth, channel_axis=-1, data_range=255)
                                   for result in (plain, enhanced)))
            gains = [ours - theirs for theirs, ours in psnrs]
            rows.append(SuperResolutionRow(scale, precision, tuple(np.mean(psnrs, axis=0)),
                                           tuple(np.mean(ssims, axis=0)), min(gains)))
    return rows


def print_removal(rows: list[MaskRow]) -> None:
    columns = " | ".join(f"{name} {measure}" for name in EVAL_SETS for measure in ("IoU", "MAE", "Fβ"))
    print(f"| model | setting | {columns} |")
    print("|---|---|" + "---|" * 3 * len(EVAL_SETS))
    for row in rows:
        figures = " | ".join(f"{value:.4f}" for name in EVAL_SETS for value in row.scores[name])
        subset = "" if row.pairs == rows[0].pairs else \
            " (" + ", ".join(f"{count} pairs" for count in row.pairs.values()) + ")"
        print(f"| {row.model} | {row.setting}{subset} | {figures} |", flush=True)
    print(f"\nPairs scored: {', '.join(f'{name} {count}' for name, count in rows[0].pairs.items())}. IoU and Fβ at "
          "threshold 128; MAE of the soft mask on a 0–1 scale (lower is better).\n")
    print_precision_costs(rows)


def print_precision_costs(rows: list[MaskRow]) -> None:
    """Each quicker precision's mean IoU and MAE minus exact's: "auto" may pick it only within ±0.005 of both."""
    print("| model | precision | " + " | ".join(f"{name} ΔIoU | {name} ΔMAE" for name in EVAL_SETS)
          + " | within 0.005 |")
    print("|---|---|" + "---|" * (2 * len(EVAL_SETS) + 1))
    by_setting = {(row.model, row.setting): row.scores for row in rows}
    for model in MODELS:
        exact = by_setting[(model, "exact")]
        for precision in ("fast", "int8"):
            deltas = [by_setting[(model, precision)][name][k] - exact[name][k] for name in EVAL_SETS for k in (0, 1)]
            keeps = "yes" if max(abs(delta) for delta in deltas) <= 0.005 else "no"
            print(f"| {model} | {precision} | " + " | ".join(f"{delta:+.4f}" for delta in deltas) + f" | {keeps} |")
    print()


def print_super_resolution(rows: list[SuperResolutionRow]) -> None:
    print("| scale | precision | PSNR bicubic dB | PSNR ours dB | PSNR gain dB | worst photo's gain dB "
          "| SSIM bicubic | SSIM ours | SSIM gain |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| ×{row.scale} | {row.precision} | {row.psnr[0]:.2f} | {row.psnr[1]:.2f} | "
              f"{row.psnr[1] - row.psnr[0]:+.2f} | {row.worst_psnr_gain:+.2f} | {row.ssim[0]:.4f} | "
              f"{row.ssim[1]:.4f} | {row.ssim[1] - row.ssim[0]:+.4f} |", flush=True)
    print(f"\nMeans over {len(SR_PHOTOS)} scikit-image photos ({', '.join(SR_PHOTOS)}); \"fast\" is the app's "
          "precision.\n")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_quality", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"every {QUICK_STEP}th pair, alpha matting on every {QUICK_MATTING_STEP}th")
    args = parser.parse_args()
    print("### Background removal on ../shared/eval\n")
    print_removal(removal_rows(QUICK_STEP, QUICK_MATTING_STEP) if args.quick else removal_rows())
    print("### Super-resolution against bicubic\n")
    print_super_resolution(super_resolution_rows())


if __name__ == "__main__":
    main()
