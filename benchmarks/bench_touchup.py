"""Touch-up: what a simulated user's strokes gain on the worst eval masks, and seconds for one "Apply".

    python -m benchmarks.bench_touchup [--speed]

Quality: the 10 worst masks of DAVIS-dev and of GrabCut for u2net and u2netp, touched up with careful and careless
strokes (benchmarks/strokes.py), and the next 20 worst (not tuned on); mean IoU gain over the cut-out as first shown
(refined prior), the worst single photo's change, and the slowest touch-up's CPU seconds (these photos are under
0.5 MP, but some are slower for GrabCut per pixel than the speed photos below).

Speed: two photos, scaled to 1 MP and 12 MP: scikit-image's retina (1411×1411, sharp: at GrabCut's working size it is
as detailed as a real 12 MP photo scaled down), with a remove dab on the tab the network keeps at its rim; and the
bundled cat (assets/samples/chelsea.jpg, 451×300, so scaled up it is smooth, which GrabCut's max-flow finds
hardest), with a keep dab on the shoulder the network leaves out and a remove dab on the room. The prior (the
model's mask being corrected) and its refined cut-out are computed beforehand, as the app keeps them; the touch-up
is also timed without the refined cut-out (as the HTTP API calls it: the refinement then runs twice). Baseline,
same run: the first cut-out, ``remove_background`` with its defaults (u2net, edge refinement).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from benchmarks.strokes import (
    MODELS,
    SETS,
    STYLES,
    WORST_COUNT,
    EvalPhoto,
    Style,
    eval_photos,
    iou,
    user_strokes,
    worst_photos,
)
from pipeline.background import model_mask, refine_mask, remove_background
from pipeline.touchup import GRABCUT_ITERATIONS, WORK_PIXELS, touch_up

CAT = Path(__file__).resolve().parent.parent / "assets" / "samples" / "chelsea.jpg"
SIZES = {"1 MP": 1_000_000, "12 MP": 12_000_000}
RUNS = 2
HELD_OUT_COUNT = 20


def disc(size: tuple[int, int], centre: tuple[float, float]) -> np.ndarray:
    """A brush dab 3.6 % of the photo's width across, centred at a fraction of the width and height."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    return np.hypot(x - centre[0] * width, y - centre[1] * height) <= 0.018 * width


@dataclass(frozen=True)
class Edit:
    name: str
    photo: Callable[[], Image.Image]
    keep: tuple[tuple[float, float], ...]  # dab centres, as fractions of the photo's width and height
    remove: tuple[tuple[float, float], ...]


EDITS = (
    Edit("retina (sharp): remove the tab", lambda: Image.fromarray(skimage.data.retina()), (), ((0.86, 0.125),)),
    Edit("cat (smooth): keep the shoulder", lambda: Image.open(CAT).convert("RGB"), ((0.08, 0.8),), ((0.94, 0.6),)),
)


def dabs(size: tuple[int, int], centres: tuple[tuple[float, float], ...]) -> np.ndarray:
    painted = np.zeros(size[::-1], bool)
    for centre in centres:
        painted |= disc(size, centre)
    return painted


def best_timing(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    """The fastest of ``runs`` calls: (wall seconds, CPU seconds of the process, all threads)."""
    best = (math.inf, math.inf)
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def quality() -> None:
    """The 10 worst masks of each set (the issue's groups, the ones the touch-up rules were tuned on), then the 11th
    to 30th worst (not tuned on: how the rules hold on photos they were not made for)."""
    print("| model | set | photos | strokes | IoU before | IoU after | mean gain | worst photo's change "
          "| slowest CPU s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model in MODELS:
        for set_name in SETS:
            ranked = worst_photos(list(eval_photos(set_name, model)), count=WORST_COUNT + HELD_OUT_COUNT)
            for label, photos in ((f"{WORST_COUNT} worst", ranked[:WORST_COUNT]),
                                  (f"next {HELD_OUT_COUNT} (not tuned on)", ranked[WORST_COUNT:])):
                for style in STYLES:
                    print(f"| {model} | {set_name} | {label} | {style} | " + touch_up_row(photos, style), flush=True)


def touch_up_row(photos: list[EvalPhoto], style: Style) -> str:
    before, after, slowest = [], [], 0.0
    for item in photos:
        keep, remove = user_strokes(item, style)
        before.append(item.before())
        cpu = time.process_time()
        mask = touch_up(item.photo, keep, remove, prior=item.prior).mask
        slowest = max(slowest, time.process_time() - cpu)
        after.append(iou(np.asarray(mask), item.truth))
    change = np.subtract(after, before)
    return (f"{np.mean(before):.3f} | {np.mean(after):.3f} | {change.mean():+.3f} | {change.min():+.3f} "
            f"| {slowest:.2f} |")


def speed() -> None:
    remove_background(Image.open(CAT))  # compiles the network once
    print(f"\nGrabCut on the box around what the strokes can change, scaled to about {WORK_PIXELS / 1e6:.2f} MP, "
          f"{GRABCUT_ITERATIONS} iterations; prior and refined cut-out computed beforehand (the app keeps them); "
          f"best of {RUNS} runs, seconds (CPU: the process's CPU time, all threads).\n")
    print("| photo and edit | size | first cut-out (remove_background) | touch-up | touch-up CPU "
          "| touch-up / first cut-out | CPU without the refined cut-out |")
    print("|---|---|---|---|---|---|---|")
    for edit in EDITS:
        source = edit.photo()
        for label, pixels in SIZES.items():
            scale = math.sqrt(pixels / (source.width * source.height))
            size = (round(source.width * scale), round(source.height * scale))
            photo = source.resize(size, Image.Resampling.BICUBIC)
            prior = model_mask(photo)
            refined = refine_mask(photo, prior)
            keep, remove = dabs(size, edit.keep), dabs(size, edit.remove)
            first, _ = best_timing(RUNS, lambda photo=photo: remove_background(photo))
            touched, cpu = best_timing(RUNS, lambda photo=photo, prior=prior, refined=refined, keep=keep,
                                       remove=remove: touch_up(photo, keep, remove, prior=prior,
                                                               refined_prior=refined))
            _, unrefined_cpu = best_timing(RUNS, lambda photo=photo, prior=prior, keep=keep, remove=remove:
                                           touch_up(photo, keep, remove, prior=prior))
            print(f"| {edit.name} | {label} ({size[0]}×{size[1]}) | {first:.2f} | {touched:.2f} | {cpu:.2f} "
                  f"| {touched / first:.1f} | {unrefined_cpu:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_touchup", description=__doc__.split("\n")[0])
    parser.add_argument("--speed", action="store_true", help="the speed table only (the quality one takes minutes)")
    if not parser.parse_args().speed:
        quality()
    speed()


if __name__ == "__main__":
    main()
