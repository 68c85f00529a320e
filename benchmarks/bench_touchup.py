"""Touch-up: seconds for one "Apply" on a 1 MP and a 12 MP photo.

    python -m benchmarks.bench_touchup

Two photos, scaled to 1 MP and 12 MP: scikit-image's retina (1411×1411, sharp: at GrabCut's working size it is
as detailed as a real 12 MP photo scaled down), with a remove dab on the tab the network keeps at its rim; and the
bundled cat (assets/samples/chelsea.jpg, 451×300, so scaled up it is smooth, which GrabCut's max-flow finds
hardest), with a keep dab on the shoulder the network leaves out and a remove dab on the room. The prior (the
model's mask being corrected) is computed beforehand, as the app keeps it. Baseline, same run: the first cut-out,
``remove_background`` with its defaults (u2net, edge refinement).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from benchmarks.harness import best_of
from pipeline.background import model_mask, remove_background
from pipeline.touchup import GRABCUT_ITERATIONS, WORK_PIXELS, touch_up

CAT = Path(__file__).resolve().parent.parent / "assets" / "samples" / "chelsea.jpg"
SIZES = {"1 MP": 1_000_000, "12 MP": 12_000_000}
RUNS = 2
SMALLER_WORK_PIXELS = 500_000  # the price of GrabCut's resolution, for comparison


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


def main() -> None:
    remove_background(Image.open(CAT))  # compiles the network once
    print(f"GrabCut at about {WORK_PIXELS / 1e6:.1f} MP, {GRABCUT_ITERATIONS} iterations; prior computed beforehand "
          f"(the app keeps it); best of {RUNS} runs, seconds.\n")
    print(f"| photo and edit | size | first cut-out (remove_background) | touch-up | touch-up / first cut-out "
          f"| touch-up, GrabCut at {SMALLER_WORK_PIXELS / 1e6:.1f} MP |")
    print("|---|---|---|---|---|---|")
    for edit in EDITS:
        source = edit.photo()
        for label, pixels in SIZES.items():
            scale = math.sqrt(pixels / (source.width * source.height))
            size = (round(source.width * scale), round(source.height * scale))
            photo = source.resize(size, Image.Resampling.BICUBIC)
            prior = model_mask(photo)
            keep, remove = dabs(size, edit.keep), dabs(size, edit.remove)
            first = best_of(RUNS, lambda photo=photo: remove_background(photo))
            touched = best_of(RUNS, lambda photo=photo, prior=prior, keep=keep, remove=remove:
                              touch_up(photo, keep, remove, prior=prior))
            smaller = best_of(RUNS, lambda photo=photo, prior=prior, keep=keep, remove=remove:
                              touch_up(photo, keep, remove, prior=prior, work_pixels=SMALLER_WORK_PIXELS))
            print(f"| {edit.name} | {label} ({size[0]}×{size[1]}) | {first:.2f} | {touched:.2f} "
                  f"| {touched / first:.1f} | {smaller:.2f} |", flush=True)


if __name__ == "__main__":
    main()
