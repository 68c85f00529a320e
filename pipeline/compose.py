"""Putting a subject on a new background.

:func:`superimpose` puts a cut-out (or a photo, whose background is removed first) on an image, a solid colour or
the blurred original photo, with placement, an edge feather and a drop shadow. :func:`compose` does the same and
also returns what a before/after view needs.

Compositing is the straight-alpha "over" operator, ``out = fg·a + bg·(1 − a)``, done in float on premultiplied
colour (``fg·a``). Working premultiplied matters at soft edges: the colour a cut-out stores under alpha ≈ 0 is
arbitrary (rembg's own cut-outs hold black there), and resizing or blurring straight colour would pull it into
the visible edge as a dark or light halo; premultiplied, it is multiplied by its alpha first and counts for
nothing. Pixels with alpha 0 keep the background exactly and pixels with alpha 255 the foreground exactly.

From a script::

    from pipeline.compose import ShadowOptions, superimpose
    from pipeline.intake import load_image

    photo = load_image("dog.jpg").image
    beach = load_image("beach.jpg").image
    superimpose(photo, beach, scale=0.7, anchor="bottom-center", shadow=ShadowOptions()).save("dog-on-beach.png")
    superimpose(photo, blur_strength=2).save("dog-portrait.png")  # no background given: the photo, blurred
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

import cv2
import numpy as np
from PIL import Image, ImageOps

from pipeline import background as removal
from pipeline.errors import ImageInputError
from pipeline.matting import Decontaminate

RGBColor = tuple[int, int, int]
Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom exclusive)
BackgroundMode = Literal["image", "color", "blur"]
Fit = Literal["cover", "contain", "stretch"]
OutputSize = Literal["background", "foreground"]
Anchor = Literal["original", "center", "top-left", "top-center", "top-right", "center-left", "center-right",
                 "bottom-left", "bottom-center", "bottom-right"]

ANCHORS: tuple[Anchor, ...] = get_args(Anchor)
FITS: tuple[Fit, ...] = get_args(Fit)
# Where each anchor puts the subject's box: the fraction of the free space (canvas minus box) left of and above it.
_ANCHOR_FRACTIONS: dict[str, tuple[float, float]] = {
    "center": (0.5, 0.5), "top-left": (0, 0), "top-center": (0.5, 0), "top-right": (1, 0),
    "center-left": (0, 0.5), "center-right": (1, 0.5),
    "bottom-left": (0, 1), "bottom-center": (0.5, 1), "bottom-right": (1, 1),
}

DEFAULT_BLUR_STRENGTH = 1.5  # Gaussian σ as % of the photo's longer side: a clear portrait-mode blur
MAX_BLUR_STRENGTH = 20.0
MAX_SCALE = 2.0
# Alpha (of 255) from which a pixel counts towards the subject's box for placement: a segmentation mask leaves
# faint specks far from the subject, and "bottom-center" should put the subject's feet at the bottom, not a speck.
SUBJECT_ALPHA = 26
FILL_LONG_SIDE = 256  # the hole the subject leaves in a blurred original is filled at this size (low frequency)
LANCZOS_SUPPORT = 3  # source pixels either side that Lanczos resampling reads, at scale 1


@dataclass(frozen=True)
class ShadowOptions:
    """A drop shadow cast by the subject onto the background (never over the subject).

    Attributes:
        offset: (right, down) shift of the shadow from the subject, in output pixels.
        blur: softness, about a Gaussian σ in output pixels (0 = a hard silhouette).
        opacity: darkness where the subject is opaque, 0..1.
        color: the shadow's colour.
    """

    offset: tuple[int, int] = (12, 16)
    blur: float = 12.0
    opacity: float = 0.5
    color: RGBColor = (0, 0, 0)

    def __post_init__(self) -> None:
        if not 0 <= self.opacity <= 1:
            raise ValueError(f"shadow opacity must be within 0..1, not {self.opacity}")
        if self.blur < 0:
            raise ValueError(f"shadow blur must not be negative, not {self.blur}")


@dataclass(frozen=True)
class Placement:
    """How foreground pixels map onto the canvas: ``canvas = scale · foreground + (x, y)``."""

    scale: float
    x: float
    y: float


@dataclass(frozen=True)
class Composite:
    """A composite and what it was made from.

    Attributes:
        image: the result, RGB (RGBA when the background image has transparency), the size of the canvas.
        plate: the background as fitted to the canvas, before the shadow and the subject.
        placement: where the foreground went.
        subject_box: the subject's visible box on the canvas (it may reach past the canvas if placed so).
        original: the photo the subject was cut out of; None when the foreground was a cut-out already.
    """

    image: Image.Image
    plate: Image.Image
    placement: Placement
    subject_box: Box
    original: Image.Image | None

    def before(self) -> Image.Image:
        """The original photo placed exactly like its subject on the plate, for a before/after view.

        Same size as :attr:`image`; where the photo does not reach, the plate shows. For a cut-out foreground
        (no original photo) this is the plate alone.
        """
        if self.original is None:
            return self.plate
        before = self.plate.copy()
        target = _intersect(_mapped_box((0, 0, *self.original.size), self.placement), (0, 0, *before.size))
        if target is not None:
            source = _source_box(target, self.placement, self.original.size)
            size = (target[2] - target[0], target[3] - target[1])
            before.paste(self.original.resize(size, Image.Resampling.LANCZOS, box=source), target[:2])
        return before


def superimpose(foreground: Image.Image, background: Image.Image | RGBColor | None = None,
                **options: Any) -> Image.Image:
    """The foreground's subject on a new background: :func:`compose`'s image; it describes every option."""
    return compose(foreground, background, **options).image


def compose(
    foreground: Image.Image,
    background: Image.Image | RGBColor | None = None,
    *,
    background_mode: BackgroundMode | None = None,
    blur_strength: float = DEFAULT_BLUR_STRENGTH,
    fit: Fit = "cover",
    output_size: OutputSize = "background",
    scale: float | None = None,
    anchor: Anchor = "original",
    offset: tuple[int, int] = (0, 0),
    feather: float = 0.0,
    shadow: ShadowOptions | None = None,
    remove_model: str = removal.DEFAULT_MODEL,
    remove_decontaminate: Decontaminate = "fast",
) -> Composite:
    """Put the foreground's subject on a new background.

    Args:
        foreground: an RGBA cut-out, used as it is when it has transparency; otherwise a photo, whose background
            is removed first with ``remove_model``.
        background: an image, an (r, g, b) colour, or None for the blurred original photo.
        background_mode: "image", "color" or "blur" (the original photo, blurred like a portrait-mode shot);
            None infers it from ``background``. "blur" needs a photo as the foreground, not a cut-out.
        blur_strength: for "blur", the Gaussian σ as a percentage of the photo's longer side (0 = not blurred).
            The subject is taken out of the photo before blurring, so its colours do not smear around it.
        fit: how a background image fills a canvas of another shape: "cover" (scaled to fill, overflow cropped
            evenly), "contain" (scaled to fit whole, padded with its average colour) or "stretch".
        output_size: the canvas is the background image's size ("background") or the foreground's
            ("foreground"). A colour or blurred background always gives the foreground's size.
        scale: the subject's size relative to the canvas: its box is made as large as fits inside ``scale`` ×
            the canvas (1.0 reaches two opposite edges). None keeps the size it has in the photo, with the
            photo's frame fitted inside the canvas.
        anchor: where the subject's box goes: "original" (where it is in the photo, frame fitted as for
            ``scale=None``, moved inside the canvas if it would stick out), or a canvas position such as
            "center", "bottom-center" (products, people standing), "top-left", ... (see :data:`ANCHORS`).
        offset: (right, down) shift in output pixels after anchoring; this may move the subject off the canvas.
        feather: softens the subject's edge inwards over about this many output pixels (0 = as cut out).
        shadow: a drop shadow under the subject, or None.
        remove_model: the rembg model that cuts a photo out (see ``pipeline.background``).
        remove_decontaminate: the colour kept under the soft edges of a photo cut out here: "fast" (the subject's
            own colour, estimated), "rembg" (rembg's decontaminate) or "off" (see ``pipeline.matting``).

    Returns:
        The composite and what it was made from.

    Raises:
        ImageInputError: the foreground has no visible subject, or "blur" was asked of a cut-out.
        ModelUnavailableError: ``remove_model`` cannot be used here.
    """
    mode = _background_mode(background, background_mode)
    _check_options(blur_strength, fit, output_size, scale, anchor, feather)
    cutout, original = _cutout(foreground, remove_model, remove_decontaminate)
    alpha = cutout.getchannel("A")
    visible = alpha.point(lambda value: 255 if value >= SUBJECT_ALPHA else 0).getbbox() or alpha.getbbox()
    if visible is None:
        raise ImageInputError("The foreground is fully transparent: there is no subject to place.")

    if mode == "blur":
        if original is None:
            raise ImageInputError("Blurring the original background needs the original photo, and this foreground "
                                  "is a cut-out. Upload the photo itself; its background is removed for you.")
        plate = _blurred_original(original, np.asarray(alpha), blur_strength)
    elif mode == "color":
        plate = Image.new("RGB", cutout.size, background)  # type: ignore[arg-type]
    else:
        canvas = background.size if output_size == "background" else cutout.size  # type: ignore[union-attr]
        plate = _fitted(background, canvas, fit)  # type: ignore[arg-type]

    placement = _placement(visible, cutout.size, plate.size, scale, anchor, offset)
    image = _composited(plate, cutout, placement, feather, shadow)
    return Composite(image, plate, placement, _mapped_box(visible, placement), original)


def _background_mode(background: Image.Image | RGBColor | None, mode: BackgroundMode | None) -> BackgroundMode:
    given: BackgroundMode = ("image" if isinstance(background, Image.Image)
                             else "blur" if background is None else "color")
    if mode is None:
        mode = given
    elif mode != "blur" and mode != given:  # "blur" ignores ``background``
        raise ValueError(f"background_mode {mode!r} needs {'an image' if mode == 'image' else 'a colour'}, "
                         f"not {type(background).__name__}")
    if mode == "color" and not (len(background) == 3 and all(0 <= c <= 255 for c in background)):  # type: ignore
        raise ValueError(f"a background colour is (r, g, b) in 0..255, not {background!r}")
    return mode


def _check_options(blur_strength: float, fit: str, output_size: str, scale: float | None, anchor: str,
                   feather: float) -> None:
    if not 0 <= blur_strength <= MAX_BLUR_STRENGTH:
        raise ValueError(f"blur_strength must be within 0..{MAX_BLUR_STRENGTH}, not {blur_strength}")
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, not {fit!r}")
    if output_size not in get_args(OutputSize):
        raise ValueError(f"output_size must be 'background' or 'foreground', not {output_size!r}")
    if scale is not None and not 0 < scale <= MAX_SCALE:
        raise ValueError(f"scale must be within (0, {MAX_SCALE}], not {scale}")
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {ANCHORS}, not {anchor!r}")
    if feather < 0:
        raise ValueError(f"feather must not be negative, not {feather}")


def _cutout(foreground: Image.Image, model: str,
            decontaminate: Decontaminate) -> tuple[Image.Image, Image.Image | None]:
    """The RGBA cut-out to place, and the photo it came from (None when the foreground was a cut-out)."""
    if foreground.mode == "RGBA" and foreground.getchannel("A").getextrema()[0] < 255:
        return foreground, None
    photo = foreground.convert("RGB")
    return removal.remove_background(photo, model=model, decontaminate=decontaminate).image.convert("RGBA"), photo


def _fitted(background: Image.Image, size: tuple[int, int], fit: Fit) -> Image.Image:
    """The background image fitted to a canvas of ``size``; RGBA only if it has transparency."""
    if background.mode != "RGBA" or background.getchannel("A").getextrema()[0] == 255:
        background = background.convert("RGB")
    if background.size == size:
        return background
    lanczos = Image.Resampling.LANCZOS
    if fit == "cover":
        return ImageOps.fit(background, size, lanczos)
    if fit == "contain":
        average = background.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
        return ImageOps.pad(background, size, lanczos, color=(0, 0, 0, 0) if background.mode == "RGBA" else average)
    return background.resize(size, lanczos)


def _blurred_original(photo: Image.Image, alpha: np.ndarray, strength: float) -> Image.Image:
    """The photo blurred like a portrait-mode shot, with the subject taken out first."""
    sigma = strength / 100 * max(photo.size)
    if sigma < 0.3:  # below a third of a pixel a blur changes nothing visible
        return photo
    pixels = np.asarray(photo)
    height, width = alpha.shape
    # Fill the subject's place from its surroundings (inpainting a small copy: the fill is blurred anyway), so
    # the blur does not spread the subject's own colours into a glow around it.
    shrink = min(1.0, FILL_LONG_SIDE / max(width, height))
    small_size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
    small_hole = cv2.resize(alpha, small_size, interpolation=cv2.INTER_AREA) >= SUBJECT_ALPHA  # not mask specks
    # One small pixel of margin also replaces the edge pixels, whose colour is part subject.
    small_hole = cv2.dilate(small_hole.astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
    small_fill = cv2.inpaint(cv2.resize(pixels, small_size, interpolation=cv2.INTER_AREA), small_hole, 3,
                             cv2.INPAINT_TELEA)
    fill = cv2.resize(small_fill, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    hole = cv2.resize(small_hole.astype(np.float32) / 255, (width, height), interpolation=cv2.INTER_LINEAR)
    hole = np.maximum(hole, alpha.astype(np.float32) / 255)[..., None]
    cleaned = pixels.astype(np.float32) * (1 - hole) + fill * hole
    blurred = _gaussian_like_blur(cleaned, sigma)
    return Image.fromarray(np.clip(np.rint(blurred), 0, 255).astype(np.uint8), "RGB")


def _gaussian_like_blur(array: np.ndarray, sigma: float) -> np.ndarray:
    """A blur of about Gaussian σ; OpenCV's stack blur costs the same for any radius (edges replicated)."""
    radius = round(sigma * math.sqrt(6))  # a stack blur's tent kernel of this radius has variance ≈ σ²
    return cv2.stackBlur(array, (2 * radius + 1, 2 * radius + 1)) if radius > 0 else array


def _placement(visible: Box, foreground_size: tuple[int, int], canvas_size: tuple[int, int], scale: float | None,
               anchor: Anchor, offset: tuple[int, int]) -> Placement:
    """Where the subject's visible box goes on the canvas, as a foreground→canvas mapping."""
    (fg_width, fg_height), (width, height) = foreground_size, canvas_size
    left, top, right, bottom = visible
    frame_scale = min(width / fg_width, height / fg_height)  # the photo's frame fitted inside the canvas
    k = frame_scale if scale is None else scale * min(width / (right - left), height / (bottom - top))
    box_width, box_height = k * (right - left), k * (bottom - top)
    if anchor == "original":
        centre_x = (width - frame_scale * fg_width) / 2 + frame_scale * (left + right) / 2
        centre_y = (height - frame_scale * fg_height) / 2 + frame_scale * (top + bottom) / 2
        box_left = _inside(centre_x - box_width / 2, width - box_width)
        box_top = _inside(centre_y - box_height / 2, height - box_height)
    else:
        fraction_x, fraction_y = _ANCHOR_FRACTIONS[anchor]
        box_left, box_top = fraction_x * (width - box_width), fraction_y * (height - box_height)
    # A whole-pixel translation keeps a subject at its own scale pixel-exact (no resampling).
    return Placement(k, _round(box_left + offset[0] - k * left), _round(box_top + offset[1] - k * top))


def _inside(position: float, free_space: float) -> float:
    """Move a box's position so the box lies inside the canvas (centred when it is larger than the canvas)."""
    return free_space / 2 if free_space < 0 else min(max(position, 0.0), free_space)


def _round(value: float) -> int:
    return math.floor(value + 0.5)  # rounds halves the same way everywhere, so a shifted box keeps its size


def _mapped_box(box: Box, placement: Placement) -> Box:
    """A foreground box on the canvas, in whole pixels."""
    k, x, y = placement.scale, placement.x, placement.y
    return (_round(k * box[0] + x), _round(k * box[1] + y), _round(k * box[2] + x), _round(k * box[3] + y))


def _source_box(target: Box, placement: Placement, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The region of a foreground of ``size`` (sub-pixel coordinates) that lands on the canvas box ``target``."""
    k, x, y = placement.scale, placement.x, placement.y
    # Whole-pixel rounding of ``target`` may reach a fraction of a pixel past the foreground's edge.
    return (max(0.0, (target[0] - x) / k), max(0.0, (target[1] - y) / k),
            min(float(size[0]), (target[2] - x) / k), min(float(size[1]), (target[3] - y) / k))


def _intersect(a: Box, b: Box) -> Box | None:
    box = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return box if box[0] < box[2] and box[1] < box[3] else None


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _premultiplied_subject(cutout: Image.Image, placement: Placement, target: Box) -> np.ndarray:
    """The cut-out resampled onto the canvas box ``target``: H×W×4 float32, colour·alpha (0..255) and alpha (0..1).

    Resampling runs on premultiplied colour, so colour under transparent pixels never bleeds into the edge.
    """
    width, height = target[2] - target[0], target[3] - target[1]
    source = _source_box(target, placement, cutout.size)
    # Read only the part of the cut-out that lands on the target, plus what the Lanczos kernel reaches.
    margin = math.ceil(LANCZOS_SUPPORT / min(placement.scale, 1.0)) + 1
    crop = (max(0, math.floor(source[0]) - margin), max(0, math.floor(source[1]) - margin),
            min(cutout.width, math.ceil(source[2]) + margin), min(cutout.height, math.ceil(source[3]) + margin))
    box = (source[0] - crop[0], source[1] - crop[1], source[2] - crop[0], source[3] - crop[1])
    if (width, height) == (box[2] - box[0], box[3] - box[1]) and all(float(v).is_integer() for v in box):
        # A whole-pixel shift: no resampling, premultiplied in float, so every pixel composites exactly.
        left, top = crop[0] + int(box[0]), crop[1] + int(box[1])
        subject = np.asarray(cutout.crop((left, top, left + width, top + height)), dtype=np.float32)
        subject[..., 3] /= 255
        subject[..., :3] *= subject[..., 3:]
        return subject
    # Pillow resamples premultiplied 8-bit ("RGBa") in C; compositing premultiplied colour directly, that
    # rounding costs at most about half a level, and colour under alpha 0 is 0 before any filter sees it.
    premultiplied = cutout.crop(crop).convert("RGBa")
    subject = np.asarray(premultiplied.resize((width, height), Image.Resampling.LANCZOS, box=box), dtype=np.float32)
    subject[..., 3] /= 255
    # Lanczos rings a little past edges: keep colour within what the alpha there can carry.
    np.minimum(subject[..., :3], subject[..., 3:] * 255, out=subject[..., :3])
    return subject


def _feathered(subject: np.ndarray, feather: float) -> None:
    """Soften the alpha edge inwards over about ``feather`` pixels, in place; alpha only ever goes down."""
    # 2·blur − 1 is 0 on a hard edge and ≈ 1 at 2σ = feather pixels inside; multiplying keeps soft detail soft.
    # Edges are replicated, so a subject cut by the photo's frame (a bust) stays solid along that cut.
    ramp = np.clip(2 * _gaussian_like_blur(subject[..., 3], feather / 2) - 1, 0, 1)
    subject *= ramp[..., None]


def _on_region(layer: np.ndarray, box: Box, region: Box) -> np.ndarray:
    """``layer`` (covering ``box``) cut or zero-padded to ``region``."""
    placed = np.zeros((region[3] - region[1], region[2] - region[0], *layer.shape[2:]), np.float32)
    overlap = _intersect(box, region)
    if overlap is not None:
        placed[overlap[1] - region[1]:overlap[3] - region[1], overlap[0] - region[0]:overlap[2] - region[0]] = \
            layer[overlap[1] - box[1]:overlap[3] - box[1], overlap[0] - box[0]:overlap[2] - box[0]]
    return placed


def _composited(plate: Image.Image, cutout: Image.Image, placement: Placement, feather: float,
                shadow: ShadowOptions | None) -> Image.Image:
    """Shadow over plate, then subject over that, in float; only the pixels they reach are computed."""
    shift_x, shift_y = shadow.offset if shadow else (0, 0)
    spread = math.ceil(3 * shadow.blur) + 1 if shadow else 0  # how far past the silhouette a blurred shadow reaches
    # Only the part of the subject that shows, or casts a shadow that shows, is resampled.
    reach = (-abs(shift_x) - spread, -abs(shift_y) - spread,
             plate.width + abs(shift_x) + spread, plate.height + abs(shift_y) + spread)
    subject_box = _intersect(_mapped_box((0, 0, *cutout.size), placement), reach)
    if subject_box is None:
        return plate.copy()
    subject = _premultiplied_subject(cutout, placement, subject_box)
    if feather > 0:
        _feathered(subject, feather)
    shadow_box = (subject_box[0] + shift_x - spread, subject_box[1] + shift_y - spread,
                  subject_box[2] + shift_x + spread, subject_box[3] + shift_y + spread)
    region = _intersect(subject_box if shadow is None else _union(subject_box, shadow_box), (0, 0, *plate.size))
    if region is None:
        return plate.copy()

    below = np.asarray(plate.crop(region), dtype=np.float32)
    transparent_plate = plate.mode == "RGBA"
    coverage = below[..., 3:] / 255 if transparent_plate else None
    colour = below[..., :3] * coverage if coverage is not None else below  # premultiplied
    if shadow:
        silhouette = np.zeros((shadow_box[3] - shadow_box[1], shadow_box[2] - shadow_box[0]), np.float32)
        silhouette[spread:spread + subject.shape[0], spread:spread + subject.shape[1]] = subject[..., 3]
        shade = _on_region(_gaussian_like_blur(silhouette, shadow.blur) * shadow.opacity, shadow_box, region)[..., None]
        colour += (np.asarray(shadow.color, np.float32) - colour) * shade  # shadow over plate
        if coverage is not None:
            coverage += (1 - coverage) * shade
    placed = _on_region(subject, subject_box, region)
    fg_colour, fg_alpha = placed[..., :3], placed[..., 3:]
    colour *= 1 - fg_alpha  # subject over that: it goes on last, so nothing ever covers it
    colour += fg_colour
    if coverage is not None:
        coverage += (1 - coverage) * fg_alpha
        np.divide(colour, coverage, out=colour, where=coverage > 0)
        colour = np.concatenate([colour, coverage * 255], axis=-1)
    np.rint(colour, out=colour)
    np.clip(colour, 0, 255, out=colour)
    result = plate.copy()
    result.paste(Image.fromarray(colour.astype(np.uint8), plate.mode), region[:2])
    return result
