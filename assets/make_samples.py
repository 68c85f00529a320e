"""Write the bundled sample photos from scikit-image's own data files (public domain / CC0).

Run ``python assets/make_samples.py``; the output is committed, this script records where it came from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

SAMPLES = Path(__file__).resolve().parent / "samples"

# file name -> (scikit-image loader, what it shows)
PHOTOS = {
    "astronaut.jpg": (skimage.data.astronaut, "person"),
    "coffee.jpg": (skimage.data.coffee, "product"),
    "chelsea.jpg": (skimage.data.chelsea, "pet"),
    "rocket.jpg": (skimage.data.rocket, "object"),
    "camera.jpg": (skimage.data.camera, "person (greyscale)"),
}


def main() -> None:
    SAMPLES.mkdir(exist_ok=True)
    for name, (load, _) in PHOTOS.items():
        pixels = np.asarray(load())
        Image.fromarray(pixels).save(SAMPLES / name, quality=92, subsampling=0)
        print(SAMPLES / name, pixels.shape)


if __name__ == "__main__":
    main()
