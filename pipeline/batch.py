"""Batch cut-outs: many photos in, one ZIP of transparent PNGs (and optionally composites) out.

The app's batch endpoint calls :func:`batch_cutouts` (``python -m pipeline cutout`` is :mod:`pipeline.catalogue`'s
job, for whole catalogues). A photo that cannot be read does not stop the batch: it is listed in the report and in
``errors.txt`` inside the ZIP.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from pipeline.background import remove_background
from pipeline.compose import superimpose
from pipeline.errors import PipelineError
from pipeline.intake import encode_image, load_image, result_filename


@dataclass(frozen=True)
class BatchReport:
    archive: Path
    processed: tuple[str, ...]  # names of the photos that gave a cut-out
    failed: tuple[tuple[str, str], ...]  # (photo name, the message saying why)

    def summary(self) -> str:
        text = f"{len(self.processed)} of {len(self.processed) + len(self.failed)} photos cut out."
        for name, message in self.failed:
            text += f"\n{name}: {message}"
        return text


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, suffix = name.rpartition(".")
    candidate, counter = name, 2
    while candidate in taken:
        candidate = f"{stem}-{counter}{dot}{suffix}"
        counter += 1
    taken.add(candidate)
    return candidate


def batch_cutouts(
    photos: Sequence[str | Path],
    archive: str | Path,
    *,
    model: str = "u2net",
    background: Image.Image | tuple[int, int, int] | None = None,
    progress: Callable[[float, str], None] | None = None,
    **remove_options: Any,
) -> BatchReport:
    """Cut out every photo and write the results into the ZIP ``archive``.

    Args:
        photos: image files (a folder's are found by :func:`pipeline.catalogue.list_photos`).
        archive: the ZIP file to write.
        model: the rembg session to use (see ``pipeline.background``).
        background: when given (an image or an RGB colour), each cut-out is also composited onto it with
            ``pipeline.compose.superimpose``'s defaults and saved as ``<name>-composite.jpg``.
        progress: called with (fraction done, message) before each photo.
        remove_options: passed on to ``pipeline.background.remove_background``.
    """
    archive = Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    processed: list[str] = []
    failed: list[tuple[str, str]] = []
    taken: set[str] = set()
    # PNG and JPEG are compressed already: storing them is as small as deflating them, and faster.
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as bundle:
        for index, photo in enumerate(map(Path, photos)):
            if progress:
                progress(index / max(len(photos), 1), f"Cutting out {photo.name} ({index + 1}/{len(photos)})")
            try:
                loaded = load_image(photo)
                cutout = remove_background(loaded.image, model=model, **remove_options)
                bundle.writestr(_unique(result_filename(loaded.name, "cutout"), taken), encode_image(cutout.image))
                if background is not None:
                    composite = superimpose(cutout.image, background)
                    bundle.writestr(_unique(result_filename(loaded.name, "composite", "jpeg"), taken),
                                    encode_image(composite, "jpeg"))
            except PipelineError as error:
                failed.append((photo.name, error.message))
            else:
                processed.append(photo.name)
        if failed:
            bundle.writestr("errors.txt", "".join(f"{name}: {message}\n" for name, message in failed))
    if progress:
        progress(1.0, "Done")
    return BatchReport(archive, tuple(processed), tuple(failed))
