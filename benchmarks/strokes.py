"""A simulated user's touch-up strokes, derived from the ground truth, for the touch-up tests and benchmark.

For each photo: one keep stroke on the largest region of the subject the mask missed and one remove stroke on the
largest region it wrongly kept (regions at 128 of the mask; pixels of unknown truth, 128, belong to neither).

- **careful**: a short line through the region's deepest point (farthest from its border), along its main axis,
  as wide as half the region's depth there, 8 % of the photo's longer side long, clipped to the region;
- **careless**: the same brush through a random point of the region's interior, in a random direction, 1–4× as
  long, clipped to the region (seeded by the photo's name: the same strokes every run).

The 10 worst masks of a set (by IoU) are the ones a user would touch up: :func:`worst_photos`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from benchmarks.bench_background import eval_pairs, iou_mae
from pipeline.background import Precision, model_mask, refine_mask

Style = Literal["careful", "careless"]
STYLES: tuple[Style, ...] = ("careful", "careless")
SETS = ("davis-dev", "grabcut")
MODELS = ("u2net", "u2netp")
WORST_COUNT = 10
STROKE_LENGTH = 0.08  # of the photo's longer side
MIN_REGION_PIXELS = 20  # a smaller region is not worth a stroke
UNKNOWN = 128  # GrabCut's ground truth marks an unknown band at 128


@dataclass(frozen=True)
class EvalPhoto:
    name: str  # "set/stem"
    photo: Image.Image
    truth: np.ndarray  # 0 background, 255 subject, 128 unknown
    prior: np.ndarray  # the network's plain mask (what touch-up corrects)
    iou: float  # of the prior

    def before(self) -> float:
        """IoU of the cut-out the user sees before touching up: the prior with the edge refinement."""
        return iou(refine_mask(self.photo, self.prior), self.truth)


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    return iou_mae(mask, truth)[0]


def eval_photos(set_name: str, model: str, precision: Precision = "auto") -> Iterator[EvalPhoto]:
    """Every photo of an eval set with the network's plain mask."""
    for stem, photo, truth in eval_pairs(set_name):
        prior = model_mask(photo, model=model, precision=precision)
        yield EvalPhoto(f"{set_name}/{stem}", photo, truth, prior, iou(prior, truth))


def worst_photos(photos: list[EvalPhoto], count: int = WORST_COUNT) -> list[EvalPhoto]:
    return sorted(photos, key=lambda item: item.iou)[:count]


def largest_part(region: np.ndarray) -> np.ndarray | None:
    """The largest 8-connected part of ``region``, or None if it is smaller than MIN_REGION_PIXELS."""
    count, parts, stats, _ = cv2.connectedComponentsWithStats(region.astype(np.uint8), connectivity=8)
    if count < 2:
        return None
    index = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return parts == index if stats[index, cv2.CC_STAT_AREA] >= MIN_REGION_PIXELS else None


def stroke_on(region: np.ndarray, style: Style, seed: int = 0) -> np.ndarray | None:
    """One stroke of ``style`` on the largest part of ``region`` (boolean H×W), or None if there is none."""
    part = largest_part(region)
    if part is None:
        return None
    depth = cv2.distanceTransform(part.astype(np.uint8), cv2.DIST_L2, 5)
    deepest = float(depth.max())
    width = max(1, round(deepest / 2))
    height, frame_width = region.shape
    length = STROKE_LENGTH * max(height, frame_width)
    if style == "careful":
        y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
        ys, xs = np.nonzero(part)
        _, axes = np.linalg.eigh(np.cov(np.stack([xs, ys]).astype(float)))
        dx, dy = axes[:, -1]
    else:
        rng = np.random.default_rng(seed)
        interior = np.argwhere(depth >= min(deepest, width / 2 + 1))  # the brush's centre fits inside
        y, x = interior[rng.integers(len(interior))]
        angle = rng.uniform(0, math.pi)
        dx, dy = math.cos(angle), math.sin(angle)
        length *= rng.uniform(1, 4)
    half = length / 2
    stroke = np.zeros(region.shape, np.uint8)
    cv2.line(stroke, (round(x - dx * half), round(y - dy * half)), (round(x + dx * half), round(y + dy * half)),
             1, width)
    clipped = (stroke > 0) & part
    return clipped if clipped.any() else None


def user_strokes(item: EvalPhoto, style: Style) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Keep on the largest missed region, remove on the largest wrongly kept one."""
    valid, subject, kept = item.truth != UNKNOWN, item.truth > UNKNOWN, item.prior >= 128
    seed = zlib.crc32(item.name.encode())
    return (stroke_on(subject & ~kept & valid, style, seed),
            stroke_on(kept & ~subject & valid, style, seed + 1))
