"""Remove background: the pipeline against ``rembg.remove`` with a reused onnxruntime session, same run.

    python -m benchmarks.bench_background           # a few minutes on 2 cores, ~8 GB for alpha matting
    python -m benchmarks.bench_background --quick   # 1 MP only, one round

(Quality per model and setting on ../shared/eval: ``python -m benchmarks.bench_quality``, which scores masks with
:func:`eval_pairs` and :func:`iou_mae` below.)

Photos: a GrabCut evaluation photo (flower.jpg, 600×450) scaled up bicubically to 1 MP and 12 MP. For each model
and size the settings run in turn, RUNS rounds, and the median is reported (rounds interleave the settings so
that load from elsewhere on the machine falls on all of them alike). The baseline is rembg's own
``remove(photo, session=new_session(model))`` (onnxruntime, session created once). "exact", "fast" and "int8" are
the plain network mask and cut-out (no refinement, colours kept); "default" is ``remove_background(photo)`` as
the app runs it: the default precision, edge refinement and foreground colour estimation. The INT8 network is
built first if it is not in the store yet (not timed). "Refine" is the edge refinement alone, timed against
rembg's alpha matting of the same photo.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import rembg
from PIL import Image

from benchmarks.harness import timings
from pipeline import models, quantize
from pipeline.background import FAST_MODEL, model_mask, refine_mask, remove_background, resolve_precision

EVAL_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
PHOTO = EVAL_DIR / "grabcut" / "images" / "flower.jpg"
MEGAPIXELS = (1, 12)
BENCH_MODELS = (FAST_MODEL, "u2net")
RUNS = 3


def scaled_photo(megapixels: float) -> Image.Image:
    photo = Image.open(PHOTO).convert("RGB")
    factor = (megapixels * 1e6 / (photo.width * photo.height)) ** 0.5
    return photo.resize((round(photo.width * factor), round(photo.height * factor)), Image.Resampling.BICUBIC)


def interleaved_medians(settings: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median seconds of each setting over ``runs`` rounds, after one untimed warm-up round."""
    for work in settings.values():
        work()
    measured: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(runs):
        for name, work in settings.items():
            measured[name] += timings(work, 1)
    return {name: statistics.median(values) for name, values in measured.items()}


def speed(sizes: tuple[int, ...] = MEGAPIXELS, runs: int = RUNS) -> None:
    models.point_rembg_at_store()
    print("| model | photo | rembg.remove (onnxruntime) s | exact s | fast s | int8 s | default s "
          "| exact × | fast × | int8 × | default × |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for model in BENCH_MODELS:
        models.ensure_model(model)
        quantize.ensure_int8(model)
        session = rembg.new_session(model)
        for megapixels in sizes:
            photo = scaled_photo(megapixels)
            plain = {precision: lambda photo=photo, model=model, precision=precision: remove_background(
                photo, model=model, precision=precision, refine_edges=False, decontaminate="off")
                for precision in ("exact", "fast", "int8")}
            times = interleaved_medians({
                "rembg": lambda photo=photo, session=session: rembg.remove(photo, session=session),
                **plain,
                "default": lambda photo=photo, model=model: remove_background(photo, model=model),
            }, runs)
            base = times["rembg"]
            columns = ("exact", "fast", "int8", "default")
            seconds = " | ".join(f"{times[name]:.2f}" for name in columns)
            ratios = " | ".join(f"{base / times[name]:.2f}" for name in columns)
            print(f"| {model} | {megapixels} MP ({photo.width}×{photo.height}) | {base:.2f} | {seconds} "
                  f"({resolve_precision(model)}) | {ratios} |", flush=True)
        del session

    print("\n| photo | edge refinement s | rembg alpha matting s (same session) | alpha matting ÷ refinement |")
    print("|---|---|---|---|")
    session = rembg.new_session("u2net")
    for megapixels in sizes:
        photo = scaled_photo(megapixels)
        mask = model_mask(photo)
        refine = statistics.median(timings(lambda photo=photo, mask=mask: refine_mask(photo, mask), runs))
        with contextlib.redirect_stdout(io.StringIO()):  # pymatting may print solver warnings into the table
            matting = timings(lambda photo=photo: rembg.remove(photo, session=session, alpha_matting=True), 1)[0]
        print(f"| {megapixels} MP | {refine:.2f} | {matting:.1f} | {matting / refine:.0f}× |", flush=True)


def eval_pairs(name: str, step: int = 1) -> Iterator[tuple[str, Image.Image, np.ndarray]]:
    """(stem, photo, ground truth) of every ``step``-th pair of evaluation set ``name`` (sorted by file name)."""
    images = sorted((EVAL_DIR / name / "images").iterdir())[::step]
    for path in images:
        truth = np.asarray(Image.open(EVAL_DIR / name / "masks" / f"{path.stem}.png").convert("L"))
        yield path.stem, Image.open(path).convert("RGB"), truth


def iou_mae(mask: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """IoU at 128 and mean absolute error of a soft mask against ground truth (128 = unknown, ignored)."""
    valid = truth != 128
    subject = truth[valid] > 128
    soft = mask[valid]
    predicted = soft >= 128
    union = (predicted | subject).sum()
    iou = float((predicted & subject).sum() / union) if union else 1.0
    return iou, float(np.abs(soft / 255.0 - subject).mean())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_background", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 MP only, one timed round")
    args = parser.parse_args()
    if args.quick:
        speed(MEGAPIXELS[:1], runs=1)
    else:
        speed()


if __name__ == "__main__":
    main()
