"""Super-resolution: any photo or cut-out, upscaled ×2, ×3 or ×4 with Intel's OpenVINO models.

×4 runs single-image-super-resolution-1032, ×3 runs -1033. ×2 runs 1032 and shrinks its ×4 result by half with
a Hamming filter: on eight scikit-image photos that beat bicubic ×2 by 2.1 dB PSNR, ahead of 1033 followed by a
⅔ shrink (1.85–1.93 dB, for about half the work) and of box, bicubic or Lanczos halving (1.8–2.0 dB).

How the models are fed (see ``../shared/models/README.md``): two inputs by name, ``'0'`` the low-resolution image
and ``'1'`` its bicubic upscale, NCHW float32 BGR 0–255; the output is BGR 0–1. The image is reflect-padded by
2 px so the poor outer ring of the output falls in the padding, then cut into tiles that each see 16 px of
context beyond the part they keep, so a tiled run equals a whole-image run. An image's tiles share one static
shape (a multiple of 32 px up to ``tile_size``, or the whole image when it is smaller), compiled once and cached
per process, precision and shape, with the uint8 conversions from and to the network's float tensors compiled
into it. One tile per core runs on OpenVINO's throughput streams while the next is filled; as each finishes, its
kept part is pasted straight into the Pillow result (no full-size array beside it).

Precision: ``"fast"`` (the app's) leaves OpenVINO's CPU default, which is bfloat16 on CPUs that have it (AVX-512
BF16 or AMX) and f32 elsewhere; here it runs 1.5–2× faster and its PSNR gain over bicubic is at most 0.04 dB lower
on average (0.08 dB on the worst photo). ``"exact"`` forces f32: the closest to a reference run, and the same on
any CPU up to rounding (the tests use it).

Transparency: the alpha channel is upscaled on its own with bicubic interpolation (constant regions stay exactly
0 or 255). Before the colours are upscaled, the colour hidden under fully transparent pixels (often black in a
cut-out) is replaced by the colour of the visible pixels nearby, so the network cannot smear it into the edge as
a dark fringe.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import openvino as ov
import openvino.opset13 as opset
from openvino.preprocess import PrePostProcessor
from PIL import Image

from pipeline.errors import ImageInputError, PipelineError
from pipeline.models import ensure_model, openvino_core

Precision = Literal["fast", "exact"]
ProgressCallback = Callable[[float, str], None]

SCALES = (2, 3, 4)
DEFAULT_MAX_OUTPUT_PIXELS = 64_000_000
MAX_OUTPUT_PIXELS = int(os.environ.get("BACKDROP_MAX_UPSCALE_PIXELS", DEFAULT_MAX_OUTPUT_PIXELS))
DEFAULT_TILE_SIZE = 256  # low-resolution px per tile side, padding and context included
MIN_TILE_SIZE = 64

PAD = 2  # reflect padding: the network's outermost output ring is poor
CONTEXT = 16  # low-res px a tile sees beyond what it keeps: enough to equal a whole-image run
SHAPE_STEP = 32  # tile sides are rounded up to a multiple of this
HIDDEN_COLOUR_REACH = 8.0  # Gaussian sigma (low-res px) over which visible colours spread under transparency


class UpscaleError(PipelineError):
    """An upscale that cannot be done as asked (unsupported scale)."""


class UpscaleTooLargeError(UpscaleError):
    """The upscaled image would exceed :data:`MAX_OUTPUT_PIXELS`."""


@dataclass(frozen=True)
class _Network:
    model: str  # name in the model store
    factor: int  # the network's own upscaling factor


_NETWORKS = {
    4: _Network("single-image-super-resolution-1032-fp32", 4),
    3: _Network("single-image-super-resolution-1033-fp32", 3),
    2: _Network("single-image-super-resolution-1032-fp32", 4),
}


@dataclass(frozen=True)
class _Span:
    """One tile's extent along an axis, in low-resolution pixels.

    ``keep_start``/``keep_stop`` are image coordinates of the part this tile contributes; ``window_start``/
    ``window_stop`` are coordinates in the padded image of what the network sees.
    """

    keep_start: int
    keep_stop: int
    window_start: int
    window_stop: int


def _spans(length: int, tile_size: int) -> list[_Span]:
    """Cover ``length`` image pixels with windows of the padded image, each keeping ≥ CONTEXT px of margin.

    A window touching the padded image's edge needs no margin there: a whole-image run sees that same edge. All
    windows along an axis have one length, so an image's tiles share one compiled shape: as short as the split
    allows (less wasted work than full-size tiles reaching far past the image's edge), rounded up to a multiple
    of SHAPE_STEP so that images of similar sizes share compiled shapes too.
    """
    padded = length + 2 * PAD
    if padded <= tile_size:
        return [_Span(0, length, 0, padded)]
    count = math.ceil(length / (tile_size - 2 * CONTEXT))
    window = min(tile_size, -(-(math.ceil(length / count) + 2 * CONTEXT) // SHAPE_STEP) * SHAPE_STEP)
    bounds = [round(i * length / count) for i in range(count + 1)]
    spans = []
    for start, stop in itertools.pairwise(bounds):
        window_start = min(max(start + PAD - CONTEXT, 0), padded - window)
        spans.append(_Span(start, stop, window_start, window_start + window))
    return spans


def _with_uint8_io(network: ov.Model) -> ov.Model:
    """``network`` taking H×W×3 BGR uint8 tiles and giving 3×H×W BGR uint8 planes: the conversions from and to its
    NCHW float run inside the compiled model, fused into its last layers, on the inference threads.

    The output stays planar and BGR: a transpose to H×W×3 or a channel gather in the graph are separate passes over
    the whole tile (about 10% of the network's own time, profiled), while ``cv2.merge`` of the kept part's planes in
    RGB order does both in the one copy Pillow needs anyway. The inputs stay BGR: reversing input ``'0'``'s channels
    in the graph gives wrong results on OpenVINO 2026.4's CPU plugin, so the caller converts the whole image once.
    """
    ppp = PrePostProcessor(network)
    for name in ("0", "1"):
        tile = ppp.input(name)
        tile.tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
        tile.model().set_layout(ov.Layout("NCHW"))
        tile.preprocess().convert_element_type(ov.Type.f32)
    result = ppp.output(0)
    result.tensor().set_element_type(ov.Type.u8)
    # BGR 0–1 (slightly overshooting) -> 0–255, rounded half to even and clipped, like cv2's saturate_cast.
    result.postprocess().custom(lambda planes: opset.clamp(opset.round(
        opset.multiply(planes, np.float32(255)), "half_to_even"), 0, 255).output(0))
    return ppp.build()


# A compiled tile shape holds ~150 MB of buffers (256 px tiles): keep only the few in use, e.g. the standard
# tiles of both networks and a recent small image.
@functools.lru_cache(maxsize=4)
def _compiled(model: str, factor: int, precision: Precision, height: int, width: int) -> ov.CompiledModel:
    """The network reshaped to one static tile shape and compiled (static shapes run faster than dynamic ones),
    with uint8 BGR tiles in and uint8 BGR planes out."""
    network = openvino_core().read_model(ensure_model(model))
    network.reshape({"0": [1, 3, height, width], "1": [1, 3, height * factor, width * factor]})
    return openvino_core().compile_model(_with_uint8_io(network), "CPU", compile_config(precision))


# Compiled networks left for the interpreter's teardown abort the process now and then (OpenVINO's "terminate called
# without an active exception", ~1 exit in 8 after an upscale): release them while Python is still whole.
atexit.register(_compiled.cache_clear)


def requests_in_flight(compiled: ov.CompiledModel) -> int:
    """One request per throughput stream, plus one more being filled while every stream is busy."""
    return compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS") + 1


def compile_config(precision: Precision) -> dict[str, str]:
    # Throughput streams: one tile per core in flight, rather than one tile split across both cores.
    config = {"PERFORMANCE_HINT": "THROUGHPUT"}
    if precision == "exact":
        config["INFERENCE_PRECISION_HINT"] = "f32"
    return config


def _fill_hidden_colours(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``rgb`` with fully transparent pixels near visible ones recoloured by an alpha-weighted blur of them."""
    hidden = alpha == 0
    if not hidden.any() or hidden.all():
        return rgb
    weight = alpha.astype(np.float32) / 255
    coverage = cv2.GaussianBlur(weight, (0, 0), HIDDEN_COLOUR_REACH)
    # Far from anything visible the colour cannot reach the network's view of the edge: leave it.
    reached = hidden & (coverage > 1e-3)
    filled = rgb.copy()
    for channel in range(3):
        spread = cv2.GaussianBlur(rgb[..., channel] * weight, (0, 0), HIDDEN_COLOUR_REACH)
        filled[..., channel][reached] = np.clip(np.rint(spread[reached] / coverage[reached]), 0, 255)
    return filled


def _kept(span: _Span, factor: int) -> slice:
    """The part of a tile's output (at the network's scale) that the tile contributes."""
    return slice((span.keep_start + PAD - span.window_start) * factor,
                 (span.keep_stop + PAD - span.window_start) * factor)


def _inside(span: _Span, length: int, factor: int) -> slice:
    """The part of a tile's output that lies inside the image rather than in the reflect padding."""
    return slice((max(PAD, span.window_start) - span.window_start) * factor,
                 (min(PAD + length, span.window_stop) - span.window_start) * factor)


def _rgb(planes: np.ndarray, rows: slice, columns: slice) -> np.ndarray:
    """The H×W×3 RGB pixels of a part of a tile's 3×H×W BGR output planes."""
    blue, green, red = (plane[rows, columns] for plane in planes)
    return cv2.merge((red, green, blue))


def _upscale_colours(rgb: np.ndarray, scale: int, out: Image.Image, precision: Precision, tile_size: int,
                     progress: ProgressCallback | None) -> None:
    """Run the network over ``rgb`` (H×W×3 uint8) tile by tile, pasting the ×``scale`` result into ``out``."""
    network = _NETWORKS[scale]
    factor = network.factor
    height, width = rgb.shape[:2]
    padded = cv2.copyMakeBorder(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), PAD, PAD, PAD, PAD, cv2.BORDER_REFLECT_101)
    tiles = [(y, x) for y in _spans(height, tile_size) for x in _spans(width, tile_size)]
    first_y, first_x = tiles[0]
    compiled = _compiled(network.model, factor, precision, first_y.window_stop - first_y.window_start,
                         first_x.window_stop - first_x.window_start)
    queue = ov.AsyncInferQueue(compiled, requests_in_flight(compiled))
    finished = 0
    failures: list[BaseException] = []
    lock = threading.Lock()

    def store(request: ov.InferRequest, tile: tuple[_Span, _Span]) -> None:
        nonlocal finished
        # Runs on an OpenVINO thread; tiles paste disjoint parts of ``out`` (Pillow releases the GIL meanwhile).
        try:
            span_y, span_x = tile
            planes = request.get_output_tensor(0).data[0]  # 3×H×W BGR uint8
            corner = (span_x.keep_start * scale, span_y.keep_start * scale)
            if factor == scale:
                piece = Image.fromarray(_rgb(planes, _kept(span_y, factor), _kept(span_x, factor)))
            else:
                # Shrink what lies inside the image, the filter reaching into the context around the kept part
                # (box=) exactly as a whole-image resize would.
                inside_y, inside_x = _inside(span_y, height, factor), _inside(span_x, width, factor)
                kept_y, kept_x = _kept(span_y, factor), _kept(span_x, factor)
                box = (kept_x.start - inside_x.start, kept_y.start - inside_y.start,
                       kept_x.stop - inside_x.start, kept_y.stop - inside_y.start)
                size = ((span_x.keep_stop - span_x.keep_start) * scale, (span_y.keep_stop - span_y.keep_start) * scale)
                piece = Image.fromarray(_rgb(planes, inside_y, inside_x)).resize(size, Image.Resampling.HAMMING,
                                                                                 box=box)
            out.paste(piece, corner)
            with lock:
                finished += 1
        except BaseException as error:  # surfaced on the calling thread after wait_all()
            failures.append(error)

    queue.set_callback(store)
    for number, (span_y, span_x) in enumerate(tiles, start=1):
        window = padded[span_y.window_start:span_y.window_stop, span_x.window_start:span_x.window_stop]
        # Written straight into the idle request's uint8 BGR input tensors, the bicubic guide by cv2 itself.
        request = queue[queue.get_idle_request_id()]
        request.get_tensor("0").data[0][...] = window
        cv2.resize(window, (window.shape[1] * factor, window.shape[0] * factor), dst=request.get_tensor("1").data[0],
                   interpolation=cv2.INTER_CUBIC)
        queue.start_async(userdata=(span_y, span_x))
        if failures:
            break
        if progress:
            progress(finished / len(tiles), f"Upscaling ×{scale}: tile {number} of {len(tiles)}")
    queue.wait_all()
    if failures:
        raise failures[0]
    if progress:
        progress(1.0, f"Upscaled ×{scale}: {len(tiles)} tiles")


def check_output_size(width: int, height: int, scale: int) -> None:
    """Raise the user-facing error for an unsupported scale or a result over :data:`MAX_OUTPUT_PIXELS`."""
    if scale not in SCALES:
        raise UpscaleError(f"Scale ×{scale} is not available; choose ×2, ×3 or ×4.")
    if width == 0 or height == 0:
        raise ImageInputError("The image has no pixels (zero width or height).")
    pixels = width * scale * height * scale
    if pixels <= MAX_OUTPUT_PIXELS:
        return
    smaller = [f"×{s}" for s in SCALES if width * s * height * s <= MAX_OUTPUT_PIXELS]
    shrink = math.sqrt(MAX_OUTPUT_PIXELS / pixels)
    advice = f"choose {' or '.join(smaller)}, or " if smaller else ""
    raise UpscaleTooLargeError(
        f"A ×{scale} upscale of this {width}×{height} image would be {width * scale}×{height * scale} "
        f"({pixels / 1e6:.1f} MP); the limit is {MAX_OUTPUT_PIXELS / 1e6:.0f} MP. Please {advice}resize the image "
        f"to at most {math.floor(width * shrink)}×{math.floor(height * shrink)} first."
    )


def upscale(image: Image.Image, scale: int = 4, *, precision: Precision = "fast", tile_size: int = DEFAULT_TILE_SIZE,
            progress: ProgressCallback | None = None) -> Image.Image:
    """Upscale ``image`` by ``scale`` (2, 3 or 4) with super-resolution; the result is exactly ``scale`` × the size.

    Args:
        image: any Pillow image. RGB and RGBA come back as RGB and RGBA (alpha kept); L and LA come back as L and
            LA; palette images come back as RGB, or RGBA when they have transparency.
        scale: the enlargement factor.
        precision: ``"fast"`` (OpenVINO's CPU default, bfloat16 where the CPU supports it) or ``"exact"`` (f32).
        tile_size: low-resolution tile side in pixels (≥ 64); changes speed and memory, not the result.
        progress: called with (fraction done, message) as tiles finish, on the calling thread.

    Raises:
        UpscaleTooLargeError: the result would exceed :data:`MAX_OUTPUT_PIXELS`; raised before any work.
        UpscaleError: ``scale`` is not 2, 3 or 4.
        ModelUnavailableError: the model cannot be had here.
    """
    check_output_size(image.width, image.height, scale)
    if tile_size < MIN_TILE_SIZE:
        raise ValueError(f"tile_size must be at least {MIN_TILE_SIZE}, not {tile_size}")
    grey = image.mode in ("1", "L", "LA", "La")
    has_alpha = image.has_transparency_data
    pixels = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    rgb, alpha = (pixels[..., :3], pixels[..., 3]) if has_alpha else (pixels, None)
    out_size = (image.width * scale, image.height * scale)
    # Tiles are pasted straight into the Pillow result: no full-size array beside it.
    result = Image.new("RGBA" if has_alpha else "RGB", out_size)
    if alpha is not None:
        rgb = _fill_hidden_colours(rgb, alpha)
    _upscale_colours(np.ascontiguousarray(rgb), scale, result, precision, tile_size, progress)
    if alpha is not None:
        result.putalpha(Image.fromarray(cv2.resize(alpha, out_size, interpolation=cv2.INTER_CUBIC)))
    if grey:
        return result.convert("LA" if has_alpha else "L")
    return result
