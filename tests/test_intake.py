"""Image intake: every mode normalised correctly, every bad file a clear message; result encoders."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.errors import ImageInputError
from pipeline.intake import encode_image, load_image, result_filename, save_result


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares a size; its pixel data is a few bytes (enough to open, not to decode)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + \
        chunk(b"IEND", b"")


def saved(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def rgb(source: object) -> np.ndarray:
    loaded = load_image(source)  # type: ignore[arg-type]
    return np.asarray(loaded.image)


# ---- modes -------------------------------------------------------------------------------------------------

def test_palette_without_transparency_becomes_rgb() -> None:
    palette_image = Image.new("P", (4, 3))
    palette_image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    palette_image.putpixel((1, 1), 1)
    loaded = load_image(saved(palette_image, "PNG"))
    assert loaded.image.mode == "RGB"
    pixels = np.asarray(loaded.image)
    assert tuple(pixels[0, 0]) == (10, 20, 30)
    assert tuple(pixels[1, 1]) == (200, 100, 50)


def test_palette_with_transparency_becomes_rgba() -> None:
    palette_image = Image.new("P", (4, 3))
    palette_image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    palette_image.putpixel((2, 0), 1)
    loaded = load_image(saved(palette_image, "PNG", transparency=0))
    assert loaded.image.mode == "RGBA"
    pixels = np.asarray(loaded.image)
    assert pixels[1, 1, 3] == 0
    assert tuple(pixels[0, 2]) == (200, 100, 50, 255)


def test_la_keeps_its_alpha() -> None:
    grey = np.full((3, 5), 90, np.uint8)
    alpha = np.arange(15, dtype=np.uint8).reshape(3, 5) * 17
    image = Image.merge("LA", [Image.fromarray(grey), Image.fromarray(alpha)])
    pixels = rgb(saved(image, "PNG"))
    assert pixels.shape == (3, 5, 4)
    assert (pixels[..., :3] == 90).all()
    assert (pixels[..., 3] == alpha).all()


def test_grey_and_one_bit_become_rgb() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    pixels = rgb(saved(Image.fromarray(grey), "PNG"))
    assert (pixels == grey[..., None]).all()
    bits = Image.fromarray(np.array([[0, 1], [1, 0]], bool))
    assert (rgb(saved(bits, "PNG"))[..., 0] == [[0, 255], [255, 0]]).all()


def test_sixteen_bit_is_scaled_not_clipped() -> None:
    samples = np.array([[0, 257, 32896], [65535, 1000, 20000]], np.uint16)
    image = Image.fromarray(samples)
    assert image.mode.startswith("I;16")
    pixels = rgb(saved(image, "PNG"))
    assert (pixels[..., 0] == np.rint(samples / 257)).all()
    mode_i = Image.fromarray(samples.astype(np.int32))
    assert mode_i.mode == "I"
    assert (rgb(mode_i)[..., 0] == np.rint(samples / 257)).all()


def test_float_images_are_mapped_to_8bit() -> None:
    unit = np.array([[0.0, 0.5], [1.0, 0.25]], np.float32)
    assert (rgb(saved(Image.fromarray(unit, "F"), "TIFF"))[..., 0] == [[0, 128], [255, 64]]).all()
    assert (rgb(unit)[..., 0] == [[0, 128], [255, 64]]).all()


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in ink
    pixels = rgb(saved(cmyk, "JPEG", quality=95))
    assert np.abs(pixels.astype(int) - [255, 0, 0]).max() <= 6


def test_rgba_and_rgb_pass_through() -> None:
    array = np.random.default_rng(0).integers(0, 256, (5, 6, 4), dtype=np.uint8)
    assert (rgb(saved(Image.fromarray(array, "RGBA"), "PNG")) == array).all()
    assert (rgb(array[..., :3]) == array[..., :3]).all()
    assert (rgb(Image.fromarray(array, "RGBA")) == array).all()


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animated_image_gives_first_frame_and_says_so(fmt: str) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    data = saved(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0,
                 **({"lossless": True} if fmt == "WEBP" else {}))
    loaded = load_image(data)
    assert loaded.notes == ("This image has 3 frames (animated or multi-page); only the first frame is used.",)
    assert tuple(np.asarray(loaded.image)[4, 4, :3]) == (255, 0, 0)


@pytest.mark.parametrize(("orientation", "turns"), [(3, 2), (6, -1), (8, 1)])
def test_exif_rotated_jpeg_comes_out_upright(orientation: int, turns: int) -> None:
    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:, :16] = (255, 0, 0)  # a red band on the stored image's left edge
    exif = Image.Exif()
    exif[0x0112] = orientation
    loaded = load_image(saved(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes()))
    expected = np.rot90(stored, k=turns)  # independent of Pillow's transpose
    assert loaded.image.size == (expected.shape[1], expected.shape[0])
    assert np.abs(np.asarray(loaded.image).astype(int) - expected).mean() < 3


# ---- sources and names -------------------------------------------------------------------------------------

def test_path_source_names_the_result(tmp_path: Path) -> None:
    path = tmp_path / "My Dog (1).png"
    Image.new("RGB", (3, 3)).save(path)
    loaded = load_image(path)
    assert loaded.name == "My-Dog-1"
    assert result_filename(loaded.name, "cutout") == "My-Dog-1-cutout.png"
    assert result_filename(loaded.name, "x4", "jpeg") == "My-Dog-1-x4.jpg"


def test_array_shapes() -> None:
    assert load_image(np.zeros((4, 5), np.uint8)).image.size == (5, 4)
    assert load_image(np.zeros((4, 5, 4), np.uint8)).image.mode == "RGBA"
    assert (rgb(np.full((2, 2), 65535, np.uint16)) == 255).all()
    with pytest.raises(ImageInputError, match=r"shape \(4, 5, 7\) is not an image"):
        load_image(np.zeros((4, 5, 7), np.uint8))


# ---- bad input ---------------------------------------------------------------------------------------------

def jpeg_bytes() -> bytes:
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return saved(Image.fromarray(noise), "JPEG")


def png_bytes() -> bytes:
    noise = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return saved(Image.fromarray(noise), "PNG")


BAD_FILES = {
    "zero-bytes": (b"", "The file is empty (0 bytes)."),
    "text": (b"just some text, renamed to .png\n", "This file is not an image that can be read."),
    "html": (b"<!DOCTYPE html><html><body>hi</body></html>", "This file is not an image that can be read."),
    "png-signature-only": (b"\x89PNG\r\n\x1a\n", "This file is not an image that can be read."),
    "jpeg-cut-in-header": (jpeg_bytes()[:400], "damaged or truncated"),
    "jpeg-cut-in-data": (jpeg_bytes()[:1500], "damaged or truncated"),
    "png-cut-in-data": (png_bytes()[:300], "damaged or truncated"),
    "decompression-bomb": (png_header_only(100_000, 100_000), "a possible decompression bomb"),
    "over-pixel-limit": (png_header_only(10_000, 5_000), "The image is 10000×5000 (50.0 MP); the limit is 40.0 MP."),
    "zero-width": (png_header_only(0, 5), "This file is not an image that can be read."),
}


@pytest.mark.parametrize(("data", "message"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_files_give_clear_messages(data: bytes, message: str) -> None:
    with pytest.raises(ImageInputError) as raised:
        load_image(data)
    assert message in raised.value.message
    assert "Traceback" not in raised.value.message


def test_pixel_limit_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (20, 10)).save(path)
    with pytest.raises(ImageInputError, match=r"The image is 20×10 \(0.0 MP\); the limit is 0.0 MP"):
        load_image(path, max_pixels=199)
    assert load_image(path, max_pixels=200).image.size == (20, 10)


def test_missing_path_and_wrong_type() -> None:
    with pytest.raises(ImageInputError, match=r"No file was found at nothing-here\.png"):
        load_image("/nonexistent/nothing-here.png")
    with pytest.raises(ImageInputError, match="Cannot read an image from a dict"):
        load_image({})  # type: ignore[arg-type]


# ---- encoders ----------------------------------------------------------------------------------------------

def cutout() -> Image.Image:
    pixels = np.zeros((8, 8, 4), np.uint8)
    pixels[2:6, 2:6] = (200, 30, 40, 255)
    pixels[0, 0] = (10, 250, 10, 128)
    return Image.fromarray(pixels, "RGBA")


def test_png_and_webp_keep_alpha_exactly() -> None:
    for fmt in ("png", "webp"):
        decoded = Image.open(io.BytesIO(encode_image(cutout(), fmt)))
        assert decoded.mode == "RGBA", fmt
        assert (np.asarray(decoded) == np.asarray(cutout())).all(), fmt


def test_jpeg_flattens_onto_the_chosen_colour(tmp_path: Path) -> None:
    path = save_result(cutout(), tmp_path, "photo", "cutout", "jpeg", jpeg_background=(0, 0, 255))
    assert path.name == "photo-cutout.jpg"
    decoded = np.asarray(Image.open(path)).astype(int)
    assert np.abs(decoded[7, 7] - [0, 0, 255]).max() <= 8          # transparent → the colour
    assert np.abs(decoded[4, 4] - [200, 30, 40]).max() <= 8        # opaque → the subject


def natural_cutout(width: int, height: int) -> Image.Image:
    """A photo-like RGBA cut-out: a sample photo scaled, with grain, and a soft-edged subject."""
    import skimage.data

    photo = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((width, height)), np.int16)
    photo = np.clip(photo + np.random.default_rng(1).integers(-3, 4, photo.shape), 0, 255).astype(np.uint8)
    y, x = np.mgrid[0:height, 0:width]
    alpha = np.clip((1.2 - np.hypot(x / width - 0.5, y / height - 0.5) * 3) * 255, 0, 255).astype(np.uint8)
    return Image.fromarray(np.dstack([photo, alpha]), "RGBA")


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("size", [(1, 1), (1, 300), (300, 1), (1300, 1100)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_png_writer_round_trips_through_pillow_and_opencv(mode: str, size: tuple[int, int]) -> None:
    """Our PNG writer (Up filter, strips deflated in parallel: 1300×1100 RGBA spans two strips) decodes exactly,
    by Pillow and by OpenCV's libpng alike."""
    import cv2

    image = natural_cutout(*size).convert(mode)
    for level in (1, 6):
        data = encode_image(image, "png", png_compress_level=level)
        decoded = Image.open(io.BytesIO(data))
        assert decoded.mode == mode and decoded.size == size
        assert (np.asarray(decoded) == np.asarray(image)).all()
        by_opencv = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        expected = np.asarray(image)
        if mode in ("RGB", "RGBA"):
            by_opencv = cv2.cvtColor(by_opencv, cv2.COLOR_BGR2RGB if mode == "RGB" else cv2.COLOR_BGRA2RGBA)
        if mode != "LA":  # OpenCV reads grey + alpha as BGRA
            assert (by_opencv.reshape(expected.shape) == expected).all()


def test_png_writer_is_no_larger_than_pillows() -> None:
    image = natural_cutout(1600, 1200)
    ours = len(encode_image(image, "png", png_compress_level=1))
    assert ours <= 1.05 * len(saved(image, "PNG", compress_level=1))


def test_webp_is_lossless_where_visible_and_smaller_than_png() -> None:
    image = natural_cutout(800, 600)
    decoded = np.asarray(Image.open(io.BytesIO(data := encode_image(image, "webp"))))
    original = np.asarray(image)
    visible = original[..., 3] > 0
    assert decoded.shape == original.shape
    assert (decoded[..., 3] == original[..., 3]).all()
    assert (decoded[visible] == original[visible]).all()  # only colour under alpha 0 may differ
    assert len(data) < 0.8 * len(encode_image(image, "png", png_compress_level=1))
    opaque = image.convert("RGB")  # a composite: lossless too
    assert (np.asarray(Image.open(io.BytesIO(encode_image(opaque, "webp")))) == np.asarray(opaque)).all()


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_downloads_of_an_exif_rotated_photo_are_upright_without_orientation_tag(fmt: str) -> None:
    stored = np.asarray(natural_cutout(64, 48).convert("RGB"))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90° clockwise
    loaded = load_image(saved(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes()))
    decoded = Image.open(io.BytesIO(encode_image(loaded.image, fmt)))
    assert decoded.size == (48, 64)
    assert decoded.getexif().get(0x0112, 1) == 1  # no viewer turns it again
    assert (np.asarray(decoded) == np.asarray(loaded.image)).all()
    error = {turns: np.abs(np.asarray(decoded, int) - np.rot90(stored, turns)).mean() for turns in (-1, 1)}
    assert error[-1] < 8 and error[1] > 3 * error[-1]  # JPEG noise only; turned the other way it would not match
