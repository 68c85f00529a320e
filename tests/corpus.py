"""The bad-input corpus: everyday awkward files, generated at test time (no opaque binaries committed).

Each case is a file plus what must happen to it: rejected with a message containing some words, or accepted
as an image of a given size (and, for the upscaler or the compositing, perhaps refused as too large or empty).
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Case:
    name: str  # file name, with the extension a user would upload it under
    data: bytes
    rejected_with: str | None = None  # words the intake's message must contain; None = a usable image
    size: tuple[int, int] | None = None  # expected upright size when accepted
    note: str | None = None  # words an accepted file's note must contain (e.g. animated images)
    too_large_for_x4: bool = False  # accepted, but a ×4 upscale must be refused with a clear message
    nothing_to_place: bool = False  # accepted, but compositing it must be refused: no visible subject


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + \
        chunk(b"IEND", b"")


def _photo(width: int = 96, height: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth colourful picture with a bright disc: something a model can segment."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                       np.full_like(x, 60 + seed * 40)], axis=-1).astype(np.uint8)
    disc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 3) ** 2
    pixels[disc] = (250, 240, 230)
    return pixels


def _animated(fmt: str) -> bytes:
    frames = [Image.fromarray(_photo(seed=i)) for i in range(3)]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    return _encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=80, loop=0, **extra)


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    return _encode(Image.fromarray(_photo(96, 64)), "JPEG", quality=92, exif=exif.tobytes())


def _palette(transparent: bool) -> bytes:
    image = Image.fromarray(_photo()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return _encode(image, "PNG", **({"transparency": 0} if transparent else {}))


def _rgba(alpha: int | None) -> bytes:
    pixels = np.dstack([_photo(), np.full((64, 96), 255, np.uint8)])
    if alpha is not None:
        pixels[..., 3] = alpha
    return _encode(Image.fromarray(pixels, "RGBA"), "PNG")


def _multipage_tiff() -> bytes:
    pages = [Image.fromarray(_photo(seed=i)) for i in range(2)]
    return _encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def corpus() -> list[Case]:
    jpeg = _encode(Image.fromarray(_photo()), "JPEG", quality=90)
    png = _encode(Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 96, 3), dtype=np.uint8)), "PNG")
    grey16 = (np.linspace(0, 65535, 96 * 64).reshape(64, 96)).astype(np.uint16)
    gradient = np.linspace(0, 1, 96 * 64, dtype=np.float32).reshape(64, 96)
    ok = (96, 64)
    unreadable = "not an image that can be read"
    return [
        Case("zero-bytes.png", b"", "empty (0 bytes)"),
        Case("text-renamed.png", b"this is a shopping list, not a photo\n", unreadable),
        Case("page.html.jpg", b"<!DOCTYPE html><html><body><img src=x></body></html>", unreadable),
        Case("drawing.svg.png", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', unreadable),
        Case("gzip.png", gzip.compress(png), unreadable),
        Case("png-signature-only.png", png[:8], unreadable),
        Case("truncated-header.jpg", jpeg[:300], "damaged or truncated"),
        Case("truncated.jpg", jpeg[: len(jpeg) // 2], "damaged or truncated"),
        Case("truncated.png", png[: len(png) // 2], "damaged or truncated"),
        Case("bomb.png", _png_header(100_000, 100_000), "decompression bomb"),
        Case("over-limit.png", _png_header(9_000, 5_000), "the limit is"),
        Case("zero-width.png", _png_header(0, 10), unreadable),
        Case("pixel-1x1.png", _encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"), size=(1, 1)),
        Case("grey-16bit.png", _encode(Image.fromarray(grey16), "PNG"), size=ok),
        Case("float.tif", _encode(Image.fromarray(gradient, "F"), "TIFF"), size=ok),
        Case("cmyk.jpg", _encode(Image.fromarray(_photo()).convert("CMYK"), "JPEG", quality=90), size=ok),
        Case("palette.png", _palette(transparent=False), size=ok),
        Case("palette-transparent.png", _palette(transparent=True), size=ok),
        Case("palette.gif", _encode(Image.fromarray(_photo()).convert("P"), "GIF"), size=ok),
        Case("la.png", _encode(Image.fromarray(_photo()).convert("LA"), "PNG"), size=ok),
        Case("grey.jpg", _encode(Image.fromarray(_photo()).convert("L"), "JPEG"), size=ok),
        Case("one-bit.png", _encode(Image.fromarray(_photo()).convert("1"), "PNG"), size=ok),
        Case("animated.gif", _animated("GIF"), size=ok, note="has 3 frames"),
        Case("animated.webp", _animated("WEBP"), size=ok, note="has 3 frames"),
        Case("multipage.tif", _multipage_tiff(), size=ok, note="has 2 frames"),
        Case("exif-rotated.jpg", _exif_rotated(), size=(64, 96)),
        Case("progressive.jpg", _encode(Image.fromarray(_photo()), "JPEG", progressive=True), size=ok),
        Case("photo.bmp", _encode(Image.fromarray(_photo()), "BMP"), size=ok),
        Case("lossy-alpha.webp", _encode(Image.open(io.BytesIO(_rgba(200))), "WEBP", quality=80), size=ok),
        Case("icon.ico", _encode(Image.fromarray(_photo(32, 32)), "ICO"), size=(32, 32)),
        Case("strip-30000x10.png", _encode(Image.fromarray(_photo(30_000, 10)), "PNG"), size=(30_000, 10)),
        Case("all-transparent.png", _rgba(0), size=ok, nothing_to_place=True),
        Case("all-white.jpg", _encode(Image.new("RGB", (96, 64), "white"), "JPEG"), size=ok),
        Case("all-black.png", _encode(Image.new("RGB", (96, 64)), "PNG"), size=ok),
        Case("large-for-x4.jpg", _encode(Image.fromarray(_photo(4_400, 4_000)), "JPEG", quality=70),
             size=(4_400, 4_000), too_large_for_x4=True),
    ]


def write_corpus(directory: Path) -> list[tuple[Case, Path]]:
    """Write every case into ``directory``; return the cases with their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for case in corpus():
        path = directory / case.name
        path.write_bytes(case.data)
        written.append((case, path))
    return written
