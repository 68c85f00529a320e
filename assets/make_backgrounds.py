"""Write the bundled sample backgrounds. Every pixel is computed here, so the images are ours (CC0).

Run ``python assets/make_backgrounds.py``; the output is committed, this script records how it was made.
The random patterns use fixed seeds, so a re-run writes the same images.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

BACKGROUNDS = Path(__file__).resolve().parent / "backgrounds"
WIDTH, HEIGHT = 1536, 1024


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates, x and y in 0..1."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return (x + 0.5) / WIDTH, (y + 0.5) / HEIGHT


def _mix(low: tuple[int, int, int], high: tuple[int, int, int], t: np.ndarray) -> np.ndarray:
    """Per-pixel blend of two colours, ``t`` in 0..1 (H×W) → H×W×3 float."""
    low_arr, high_arr = np.array(low, np.float32), np.array(high, np.float32)
    return low_arr + (high_arr - low_arr) * np.clip(t, 0, 1)[..., None]


def _to_image(pixels: np.ndarray, seed: int) -> Image.Image:
    # Half a grey level of noise breaks up the banding a smooth gradient shows once saved as 8-bit JPEG.
    dither = np.random.default_rng(seed).uniform(-0.5, 0.5, pixels.shape[:2]).astype(np.float32)[..., None]
    return Image.fromarray(np.clip(np.rint(pixels + dither), 0, 255).astype(np.uint8), "RGB")


def studio_sweep() -> Image.Image:
    """A light-grey seamless paper sweep: brighter behind the subject, falling off to the corners."""
    x, y = _grid()
    floor_bend = 1 / (1 + np.exp(-(y - 0.72) * 14))  # where the paper curves from wall to floor
    pixels = _mix((214, 216, 220), (236, 237, 239), floor_bend)
    spotlight = np.exp(-(((x - 0.5) / 0.55) ** 2 + ((y - 0.55) / 0.7) ** 2))
    return _to_image(pixels * (0.86 + 0.14 * spotlight)[..., None], seed=1)


def gradient() -> Image.Image:
    """A diagonal peach-to-lavender gradient."""
    x, y = _grid()
    return _to_image(_mix((255, 200, 170), (150, 140, 215), 0.55 * x + 0.45 * y), seed=2)


def floor_wall() -> Image.Image:
    """A warm plaster wall meeting a wooden floor in perspective, with a soft shadow where they meet."""
    x, y = _grid()
    rng = np.random.default_rng(3)
    horizon = 0.68
    wall = _mix((232, 222, 205), (214, 200, 180), y / horizon)
    plaster = cv2.GaussianBlur(rng.normal(0, 1, (HEIGHT, WIDTH)).astype(np.float32), (0, 0), 3)
    wall += 2.5 * plaster[..., None]

    depth = np.clip((y - horizon) / (1 - horizon), 1e-3, 1)  # 0 at the wall, 1 at the bottom edge
    plank_x = (x - 0.5) / depth  # floor boards converge to a vanishing point on the horizon
    grain = cv2.GaussianBlur(rng.normal(0, 1, (HEIGHT, WIDTH)).astype(np.float32), (0, 0), sigmaX=1, sigmaY=6)
    seams = np.exp(-((np.mod(plank_x * 9, 1) - 0.5) / (0.02 / depth)) ** 2)
    floor = _mix((150, 104, 70), (124, 84, 56), depth) * (1 - 0.25 * seams)[..., None] + 5 * grain[..., None]
    contact_shade = 1 - 0.18 * np.exp(-np.abs(y - horizon) / 0.02)

    on_floor = np.clip((y - horizon) * HEIGHT + 0.5, 0, 1)  # a one-pixel soft edge between wall and floor
    pixels = wall * (1 - on_floor)[..., None] + floor * on_floor[..., None]
    return _to_image(pixels * contact_shade[..., None], seed=3)


def bokeh() -> Image.Image:
    """Out-of-focus city lights: soft discs of warm and cool light over a dark blue-teal night."""
    x, y = _grid()
    rng = np.random.default_rng(4)
    pixels = _mix((14, 24, 44), (10, 52, 64), 0.6 * x + 0.4 * (1 - y))
    colours = np.array([(255, 196, 120), (255, 150, 90), (140, 200, 255), (255, 235, 190)], np.float32)
    for _ in range(70):
        disc = np.zeros((HEIGHT, WIDTH), np.float32)
        centre = (int(rng.uniform(0, WIDTH)), int(rng.uniform(0, HEIGHT * 0.85)))
        cv2.circle(disc, centre, int(rng.uniform(18, 70)), 1.0, thickness=-1, lineType=cv2.LINE_AA)
        disc = cv2.GaussianBlur(disc, (0, 0), rng.uniform(1.5, 4))  # lens-blurred discs keep a soft rim
        light = colours[rng.integers(len(colours))] * rng.uniform(0.12, 0.35)
        pixels += disc[..., None] * light  # light adds up where discs overlap
    return _to_image(np.clip(pixels, 0, 255), seed=4)


# file name -> (generator, caption shown in the app)
GENERATED: dict[str, tuple[Callable[[], Image.Image], str]] = {
    "studio-sweep.jpg": (studio_sweep, "Studio sweep"),
    "gradient.jpg": (gradient, "Gradient"),
    "floor-wall.jpg": (floor_wall, "Floor and wall"),
    "bokeh.jpg": (bokeh, "Bokeh lights"),
}


def main() -> None:
    BACKGROUNDS.mkdir(exist_ok=True)
    for name, (make, _) in GENERATED.items():
        make().save(BACKGROUNDS / name, quality=90, subsampling=0)
        print(BACKGROUNDS / name, f"{(BACKGROUNDS / name).stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
