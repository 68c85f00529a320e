"""Background removal: rembg's U²-Net sessions with the network run on OpenVINO, and an edge refinement.

rembg's session classes keep their model files and their pre- and post-processing (``session.predict``);
only the network behind them (``session.inner_session``) runs on OpenVINO instead of onnxruntime, from the
same ``.onnx`` file. Precisions:

- ``"exact"``: f32 throughout; the mask is ``rembg.remove(..., only_mask=True)``'s within a grey level (but for
  one or two pixels of a few photos, which differ by 2: rembg truncates the network's output to 8 bits).
- ``"fast"``: OpenVINO's CPU default, bf16 where the CPU has it: the network runs 2–4× faster than at f32.
- ``"int8"``: the network quantized to INT8 by NNCF on this machine (:mod:`pipeline.quantize`; built on first
  use, or in the background at start-up).
- ``"auto"`` (default): ``"int8"`` once built, for the models whose quality it keeps on ``../shared/eval`` (IoU and
  MAE within 0.005 of ``"exact"`` on DAVIS-dev and GrabCut, :data:`pipeline.options.INT8_KEEPS_QUALITY`); else
  ``"fast"`` where that keeps it (:data:`pipeline.options.FAST_KEEPS_QUALITY`); else ``"exact"``.

At every precision but ``"exact"``, U²-Net's pre- and post-processing are rembg's made quicker for large photos
(:func:`_quick_u2net_mask`); at ``"exact"`` they are rembg's own.

Sessions are built once per (model, precision) and process, shared between threads, and only the
:data:`SESSION_CACHE_SIZE` most recently used are kept in memory.

From a script::

    from pipeline.background import remove_background
    from pipeline.intake import load_image

    cutout = remove_background(load_image("dog.jpg").image)
    cutout.image.save("dog-cutout.png")
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import onnxruntime
from PIL import ExifTags, Image, ImageOps
from rembg import bg as rembg_bg
from rembg.sessions import sessions as rembg_sessions
from rembg.sessions.base import BaseSession

from pipeline import matting, models, quantize
from pipeline.errors import ModelUnavailableError
from pipeline.intake import flatten
from pipeline.options import (
    DEFAULT_MODEL,
    FAST_MODEL,
    Decontaminate,
    Precision,
    ResolvedPrecision,
    resolve_precision,
)

RGBAColor = tuple[int, int, int, int]

SESSION_CACHE_SIZE = 3  # u2net at two precisions (e.g. fast until its INT8 network is ready, then int8) and u2netp
# Threads each network is compiled with; 0 = OpenVINO's choice (every core). A catalogue job's Ray actor sets it
# to its share of CPUs before its first session (pipeline.catalogue_ray), so actors do not oversubscribe a node.
INFERENCE_THREADS = 0

# Sessions whose predict is rembg's U2netSession's (one 320×320 input, first output min-max scaled): those get
# the quicker pre- and post-processing of _quick_u2net_mask at every precision but "exact".
QUICK_PROCESSING_MODELS = frozenset({"u2net", "u2netp", "u2net_human_seg", "silueta"})

# rembg sessions this module does not offer, and why (the others run whenever the store can supply the file).
_NOT_OFFERED = {
    "sam": "needs point prompts, which this app does not collect",
    "u2net_custom": "loads a model file of your own",
    "dis_custom": "loads a model file of your own",
    "ben_custom": "loads a model file of your own",
}
_REMOTE = "sends the photo to an online service"

#: Every rembg session this module can run when its model file can be had: u2net first, then u2netp.
AVAILABLE_MODELS: tuple[str, ...] = tuple(sorted(
    (name for name, cls in rembg_sessions.items()
     if cls.is_local() and name not in _NOT_OFFERED and name in models.MODELS),
    key=lambda name: (name != DEFAULT_MODEL, name != FAST_MODEL),
))


@dataclass(frozen=True)
class ModelInfo:
    """One rembg session and whether it can be used here."""

    name: str
    description: str
    available: bool
    note: str  # where the file is had offline ("here", "mirror", "PyPI wheel"), or why the model cannot be used


def list_models() -> list[ModelInfo]:
    """Every rembg session, those this module runs first, each marked available here (offline) or not."""
    infos = []
    for name in AVAILABLE_MODELS:
        source = models.offline_source(name)
        note = source or "needs the internet"
        if name in _onnxruntime_models:
            note += f"; {RUNS_ON_ONNXRUNTIME}"
        infos.append(ModelInfo(name, models.MODELS[name].description, source is not None, note))
    for name, session_class in rembg_sessions.items():
        if name not in AVAILABLE_MODELS:
            infos.append(ModelInfo(name, (session_class.__doc__ or name).strip().splitlines()[0], False,
                                   _not_offered_reason(name)))
    return infos


def _not_offered_reason(name: str) -> str:
    if not rembg_sessions[name].is_local():
        return _REMOTE
    return _NOT_OFFERED.get(name, "has no model file in the store")


@dataclass(frozen=True)
class Cutout:
    """A background-removal result, the same size as the input and upright."""

    image: Image.Image  # RGBA cut-out; RGBA filled with ``bgcolor`` if one was given; the mask ("L") if only_mask
    mask: Image.Image  # mode "L" soft mask: the cut-out's alpha
    # The network's own mask (uint8 H×W) before any refinement: what a touch-up corrects (pipeline.touchup's
    # ``prior``), kept so that it need not be computed again. None where no network ran for this result.
    network_mask: np.ndarray | None = None


class OpenVinoInnerSession:
    """The part of ``onnxruntime.InferenceSession`` that rembg's sessions call, run by OpenVINO."""

    def __init__(self, network_path: Path, precision: ResolvedPrecision) -> None:
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if INFERENCE_THREADS:
            config["INFERENCE_NUM_THREADS"] = INFERENCE_THREADS
            # OpenVINO pins a network's threads to cores counted from the first: two one-thread actors on a node
            # both ran on core 0 (each got 60% of a core, the other core was 43% idle) until pinning was off.
            config["ENABLE_CPU_PINNING"] = False
        if precision == "exact":
            config["INFERENCE_PRECISION_HINT"] = "f32"
        self._compiled = models.compiled_network(network_path, config)
        self._inputs = [SimpleNamespace(name=port.get_any_name(), shape=list(port.get_partial_shape()))
                        for port in self._compiled.inputs]
        self._output_names = [port.get_any_name() for port in self._compiled.outputs]
        self._lock = threading.Lock()

    def get_inputs(self) -> list[SimpleNamespace]:
        return self._inputs

    def run(self, output_names: list[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        # A request per call (requests are cheap, ~0.1 ms, and not thread-safe), one call at a time: two threads
        # inferring at once on one compiled model once hung both inside OpenVINO 2026.4 (a catalogue job's pool),
        # and at the LATENCY hint one inference already uses every core, so little is lost.
        with self._lock:
            results = self._compiled.create_infer_request().infer(feeds)
        return [results[self._compiled.output(name)] for name in output_names or self._output_names]


_sessions: OrderedDict[tuple[str, str], BaseSession] = OrderedDict()
_sessions_lock = threading.Lock()

log = logging.getLogger(__name__)
RUNS_ON_ONNXRUNTIME = "runs on onnxruntime"
# Models whose network OpenVINO could not read or compile in this process, with OpenVINO's reason.
_onnxruntime_models: dict[str, str] = {}


def onnxruntime_reason(model: str) -> str | None:
    """Why ``model`` runs on onnxruntime in this process (OpenVINO's error), or None while it runs on OpenVINO."""
    return _onnxruntime_models.get(model)


def _inner_session(model: str, network_path: Path, precision: ResolvedPrecision
                   ) -> OpenVinoInnerSession | onnxruntime.InferenceSession:
    """The network on OpenVINO; where OpenVINO cannot read or compile it, rembg's own onnxruntime session.

    OpenVINO is tried once per model and process (a failure is said in the log and in :func:`list_models`);
    onnxruntime then runs the model's own ``.onnx`` at f32 on the CPU, as rembg does, whatever the precision.
    """
    if model not in _onnxruntime_models:
        try:
            return OpenVinoInnerSession(network_path, precision)
        except Exception as error:  # OpenVINO's errors are RuntimeErrors of many kinds; any means it cannot
            _onnxruntime_models[model] = next(iter(str(error).strip().splitlines()), type(error).__name__)
            log.warning("OpenVINO cannot run the model %s (%s); it %s instead.", model,
                        _onnxruntime_models[model], RUNS_ON_ONNXRUNTIME)
    return onnxruntime.InferenceSession(str(models.ensure_model(model)), providers=["CPUExecutionProvider"])


def rembg_session(model: str = DEFAULT_MODEL, precision: Precision = "auto") -> BaseSession:
    """rembg's session for ``model`` with its network on OpenVINO, built once and then reused.

    The model file goes through the store first, so a model that cannot be had fails at once with
    :class:`ModelUnavailableError` (a message for the user).
    """
    resolved = resolve_precision(model, precision)
    if model not in AVAILABLE_MODELS:
        if model in rembg_sessions:
            raise ModelUnavailableError(f"The model '{model}' cannot be used here: it {_not_offered_reason(model)}.")
        raise ModelUnavailableError(f"Unknown model '{model}'. Choose one of: {', '.join(AVAILABLE_MODELS)}.")
    path = models.ensure_model(model)
    if resolved == "int8":
        if model not in QUICK_PROCESSING_MODELS:
            raise ModelUnavailableError(f"The model '{model}' has no INT8 precision; choose 'fast' or 'exact'.")
        path = quantize.ensure_int8(model)  # at once when built; an explicit request waits for the build
    key = (model, "onnxruntime" if model in _onnxruntime_models else resolved)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session_class = rembg_sessions[model]
            # BaseSession.__init__ would load the file into onnxruntime too; the session is made without it
            # and given the OpenVINO network instead.
            session = session_class.__new__(session_class)
            session.model_name = model
            session.inner_session = _inner_session(model, path, resolved)
            if model in _onnxruntime_models:  # one onnxruntime session serves every precision
                key = (model, "onnxruntime")
            _sessions[key] = session
            while len(_sessions) > SESSION_CACHE_SIZE:
                _sessions.popitem(last=False)
        _sessions.move_to_end(key)
        return session


def upright(image: Image.Image) -> Image.Image:
    """The image turned upright by its EXIF orientation (the image itself when it already is: no 12 MP copy)."""
    if image.getexif().get(ExifTags.Base.Orientation, 1) == 1:
        return image
    return ImageOps.exif_transpose(image)


def keep_own_transparency(mask: np.ndarray, image: Image.Image) -> np.ndarray:
    """``mask`` (uint8 H×W) limited by the upright image's own alpha: what was transparent stays so."""
    if not image.has_transparency_data:
        return mask
    own_alpha = np.asarray(image.convert("RGBA").getchannel("A"), dtype=np.uint16)
    return ((mask.astype(np.uint16) * own_alpha + 127) // 255).astype(np.uint8)


def with_alpha(image: Image.Image, alpha: Image.Image) -> Image.Image:
    """The upright image's own colours as an RGBA cut-out with ``alpha`` (mode "L").

    Not the network's view of it: that has transparent areas flattened onto white, which would lighten every
    semi-transparent pixel on top of the alpha the cut-out keeps.
    """
    cutout = image.convert("RGBA")
    cutout.putalpha(alpha)
    return cutout


def network_photo(image: Image.Image) -> Image.Image:
    """The photo as the network sees it: upright, RGB, transparent areas flattened onto white."""
    image = upright(image)
    if image.has_transparency_data:
        return flatten(image.convert("RGBA"))
    return image if image.mode == "RGB" else image.convert("RGB")


def model_mask(image: Image.Image, *, model: str = DEFAULT_MODEL, precision: Precision = "auto") -> np.ndarray:
    """The network's soft mask at the image's full size, before any refinement (uint8 H×W, 255 = subject).

    This is rembg's ``session.predict`` on the upright photo; sessions that give several masks
    (u2net_cloth_seg: one per garment class) have them combined by maximum.
    """
    return _network_mask(network_photo(image), model, precision)


def _network_mask(photo: Image.Image, model: str, precision: Precision) -> np.ndarray:
    session = rembg_session(model, precision)
    if model in QUICK_PROCESSING_MODELS and resolve_precision(model, precision) != "exact":
        return _quick_u2net_mask(session, photo)
    masks = session.predict(photo)
    return np.maximum.reduce([np.asarray(mask.convert("L")) for mask in masks])


U2NET_INPUT = 320
U2NET_MEAN = np.array((0.485, 0.456, 0.406), dtype=np.float32)
U2NET_STD = np.array((0.229, 0.224, 0.225), dtype=np.float32)
QUICK_REDUCE_TO = 2 * U2NET_INPUT


def _quick_u2net_mask(session: BaseSession, photo: Image.Image) -> np.ndarray:
    """rembg's ``U2netSession.predict``, made quick on large photos (uint8 H×W mask at the photo's size).

    rembg LANCZOS-resizes the whole photo to 320×320 and the mask back to the photo's size, in Pillow on one core:
    at 12 MP that is most of its time after the network. Here the photo is first box-reduced by a whole factor
    (``Image.reduce``) to no less than 640 px a side, then LANCZOS-resized to 320×320, and the mask is scaled up by
    OpenCV (bilinear). The normalisation (by the maximum, ImageNet mean and std) and the min-max scaling and 8-bit
    truncation of the output are rembg's.
    """
    factor = max(1, min(photo.size) // QUICK_REDUCE_TO)
    small = photo.reduce(factor) if factor > 1 else photo
    pixels = np.asarray(small.resize((U2NET_INPUT, U2NET_INPUT), Image.Resampling.LANCZOS), dtype=np.float32)
    pixels = (pixels / max(float(pixels.max()), 1e-6) - U2NET_MEAN) / U2NET_STD
    inner = session.inner_session
    prediction = inner.run(None, {inner.get_inputs()[0].name: pixels.transpose(2, 0, 1)[None]})[0][0, 0]
    low, high = float(prediction.min()), float(prediction.max())
    scaled = (prediction - low) / (high - low) if high > low else np.zeros_like(prediction)
    return cv2.resize((scaled * 255).astype(np.uint8), photo.size, interpolation=cv2.INTER_LINEAR)


@dataclass(frozen=True)
class EdgeRefinement:
    """The edge refinement's parameters (:func:`refine_mask`).

    Chosen on soft truth (benchmarks/bench_softedge.py: DAVIS-dev and GrabCut subjects given soft edges) and on
    the binary masks of both sets (benchmarks/bench_quality.py; tests/test_softedge.py, tests/test_background.py).
    """

    # Window radii, as fractions of the photo's long side (in pixels of U²-Net's 320×320 grid: 2 and 16). The
    # narrow window follows detailed edges; the wide one, where the photo's colours explain the alpha over all of
    # it, fits soft edges (blur, defocus, hair) better. Wide alone lost 0.036 IoU on DAVIS-dev; narrow alone
    # raised the alpha SAD on GrabCut's soft set from 0.97× to 1.07× plain rembg's.
    radius: float = 2 / 320
    wide_radius: float = 16 / 320
    # The wide window's weight is the share of the mask's variance in it that the colours explain, to this power.
    wide_power: float = 3.0
    eps: float = 3e-4  # regularisation: smaller follows the photo's edges more closely, larger smooths more
    presharpen: float = 3.0  # the network's mask is upsampled from 320×320: its ramp is wider than any real edge
    # A window's fit keeps only the share of the mask's variance its colours explain, so a partial fit (the
    # network's edge a little off the photo's) is a washed-out ramp: its contrast is stretched by 1 / that share,
    # at most this much (flat windows, where the colours explain nothing and the alpha is the network's blur).
    max_gain: float = 5.0
    work_size: int = 640  # the coefficients are computed on the photo reduced to at most this long side


def refinement_reach(size: tuple[int, int], settings: EdgeRefinement = EdgeRefinement()) -> int:
    """How far (full-size pixels) a change of the mask can move :func:`refine_mask`'s answer, for a photo of
    ``size``: the wide window's radius on the work grid, plus a work pixel for the reduction and one for the
    bilinear upsampling."""
    factor = max(1, -(-max(size) // settings.work_size))
    return (round(settings.wide_radius * -(-max(size) // factor)) + 2) * factor


def _box(array: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(array, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def _channel_sum(array: np.ndarray) -> np.ndarray:
    """The sum over the last axis of an h×w×3 float32 array, h×w (cv2.transform: NumPy's ``sum(axis=-1)`` over
    so short an axis is 3–10× slower; the same values)."""
    return cv2.transform(array, _SUM_CHANNELS)


_SUM_CHANNELS = np.ones((1, 3), np.float32)


def _solve_3x3(sigma: dict[tuple[int, int], np.ndarray], rhs: np.ndarray) -> np.ndarray:
    """Solve the symmetric 3×3 systems ``sigma · x = rhs`` of every pixel at once (by cofactors; the inverse is
    symmetric too, so six of them)."""
    a, b, c, e, f, i = (sigma[key] for key in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)))
    ab, ac, bc = c * f - b * i, b * f - c * e, b * c - a * f
    inverse = ((e * i - f * f, ab, ac), (ab, a * i - c * c, bc), (ac, bc, a * e - b * b))
    determinant = a * inverse[0][0] + b * inverse[0][1] + c * inverse[0][2]
    r0, r1, r2 = cv2.split(rhs)  # contiguous planes: arithmetic on strided channel views is slower
    return cv2.merge([(row[0] * r0 + row[1] * r1 + row[2] * r2) / determinant for row in inverse])


def refine_mask(image: Image.Image, mask: np.ndarray, settings: EdgeRefinement = EdgeRefinement()) -> np.ndarray:
    """Edge-aware refinement of a soft mask, guided by the full-resolution photo: alpha that follows the photo.

    The network's mask, contrast-stretched (``presharpen``), is fitted by a colour guided filter (He et al.)
    run the fast way (He & Sun, 2015): in each window alpha is a linear function of the colour, the coefficients
    computed on the photo reduced to about ``work_size`` and applied to the full-resolution photo. Where the photo
    has colour contrast, alpha so takes the photo's own edge, sharp or soft (hair, motion blur, defocus); the
    window's own coefficients are used, not their window average (which would blur every edge by a window).
    Two windows are fitted, a narrow and a wide one, and mixed by how well the wide one's fit explains the mask.
    Then a contrast stretch around 50 % by 1 / the share of the mask's variance the window's colours explain
    (at most ``max_gain``): a full fit (an edge the colours follow, sharp or soft) is kept as fitted, a partial
    one is no longer a washed-out ramp, and where the colours explain nothing the network's blur is narrowed.

    Args:
        image: the photo the mask belongs to (made upright by its EXIF orientation; transparency flattened).
        mask: uint8 H×W soft mask of the same size, 255 = subject.
        settings: the parameters (:class:`EdgeRefinement`).

    Returns:
        The refined uint8 H×W mask.
    """
    photo = network_photo(image)
    return _guided_refinement(photo, np.asarray(photo), mask, settings)


def _window_fit(guide: np.ndarray, source: np.ndarray, window: int, settings: EdgeRefinement
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The guided filter's fit in each window: slope (h×w×3), offset, stretch gain, and the share of the
    source's variance the fit explains (0–1)."""
    eps = settings.eps
    mean_guide = _box(guide, window)
    mean_source = _box(source, window)
    covariance = _box(guide * source[..., None], window) - mean_guide * mean_source[..., None]
    sigma = {(i, j): _box(guide[..., i] * guide[..., j], window) - mean_guide[..., i] * mean_guide[..., j]
             + (eps if i == j else 0.0) for i in range(3) for j in range(i, 3)}
    slope = _solve_3x3(sigma, covariance)
    offset = mean_source - _channel_sum(slope * mean_guide)
    source_variance = _box(source * source, window) - mean_source * mean_source
    explained = np.clip(_channel_sum(slope * covariance) / np.maximum(source_variance, 1e-6), 0, 1)
    gain = 1 / np.maximum(explained, 1 / settings.max_gain)
    return slope, offset, gain, explained


def _guided_refinement(photo: Image.Image, pixels: np.ndarray, mask: np.ndarray, settings: EdgeRefinement
                       ) -> np.ndarray:
    """:func:`refine_mask` of ``photo`` (RGB), whose pixels ``pixels`` (H×W×3 uint8) the caller already has."""
    width, height = photo.size
    if mask.shape != (height, width):
        raise ValueError(f"the mask is {mask.shape[1]}×{mask.shape[0]}, the photo {width}×{height}")
    # Reduced by a whole factor (Pillow's box reduction: exact and ~3× faster than an arbitrary resize).
    factor = max(1, -(-max(width, height) // settings.work_size))
    guide = np.asarray(photo.reduce(factor), dtype=np.float32) / 255
    presharpen = settings.presharpen
    stretched = cv2.addWeighted(mask, presharpen, mask, 0.0, 127.5 * (1 - presharpen), dtype=cv2.CV_8U)
    source = np.asarray(Image.fromarray(stretched).reduce(factor), dtype=np.float32) / 255
    narrow, wide = (_window_fit(guide, source, max(1, round(radius * max(guide.shape))), settings)
                    for radius in (settings.radius, settings.wide_radius))
    weight = wide[3] ** settings.wide_power
    slope, offset, gain = (n + (w - n) * (weight[..., None] if n.ndim == 3 else weight)
                           for n, w in zip(narrow[:3], wide[:3], strict=True))
    # The stretch and the 0–255 scale are folded into the coefficients, so the full-resolution pass is one
    # multiply-add per channel of the 8-bit photo:
    # 255·(gain·(offset + slope·rgb/255 − ½) + ½) = gain·slope·rgb + 255·(gain·(offset − ½) + ½).
    slope *= gain[..., None]
    offset = (offset - 0.5) * (255 * gain) + 127.5
    return _apply_coefficients(pixels, slope, offset)


def _apply_coefficients(pixels: np.ndarray, slope: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``slope · rgb + offset``, the coefficients bilinearly upsampled to the photo's size, rounded to 0–255.

    Most of a photo is surely subject or surely background: where every colour found near a pixel would give
    ≥ 255 (or ≤ 0) with every coefficient the bilinear upsampling mixes there, the answer is known without
    computing it. Only the other pixels (around the edges, a few percent of a large photo) are computed at full
    size. The result equals the dense computation, but where the sampling's 1/32-pixel grid (cv2.remap) moves a
    value across a rounding step (±1 level).
    """
    height, width = pixels.shape[:2]
    # A pixel's bilinear weights fall on work pixels within one of the one nearest it, and its colour is within
    # the range of that work pixel's block: so each work pixel's bound is taken over the colours of the 3×3
    # blocks around it, and a pixel is known where the bounds of all 3×3 work pixels around its own agree.
    around = np.ones((3, 3), np.uint8)
    block_lowest, block_highest = _block_colour_ranges(pixels, offset.shape)
    at_lowest = slope * cv2.erode(block_lowest, around).astype(np.float32)
    at_highest = slope * cv2.dilate(block_highest, around).astype(np.float32)
    lowest = offset + _channel_sum(np.minimum(at_lowest, at_highest))
    highest = offset + _channel_sum(np.maximum(at_lowest, at_highest))
    subject = cv2.erode((lowest > 254.5).astype(np.uint8), around)
    background = cv2.erode((highest < 0.5).astype(np.uint8), around)
    full = (width, height)
    refined = cv2.resize(subject * np.uint8(255), full, interpolation=cv2.INTER_NEAREST)
    unknown = cv2.resize(1 - subject - background, full, interpolation=cv2.INTER_NEAREST)
    points = cv2.findNonZero(unknown)
    if points is None:
        return refined
    columns, rows = points.reshape(-1, 2).T
    coefficients = matting.sample_bilinear(np.dstack([slope, offset]), columns, rows, full)
    values = coefficients[:, 3] + _channel_sum((coefficients[:, :3] * pixels[rows, columns])[:, None]).ravel()
    refined[rows, columns] = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return refined


def _block_colour_ranges(pixels: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of a work grid of ``shape`` (h, w), the lowest and the highest value of each channel of the
    full-size ``pixels`` that cv2.resize's nearest-neighbour upsampling gives that work pixel (h×w×3 uint8 each).

    A block is the run of full-size pixels from ``ceil(b · full / work)``; the window taken reaches a pixel
    beyond the longest run on each side, so that a rounding of the mapping cannot leave a pixel out. The
    wide coefficient windows spread a slope far from the edge it belongs to: bounded over all colours (0–255),
    twice as many pixels of a 12 MP photo were computed.
    """
    def windows(full: int, work: int) -> tuple[int, np.ndarray]:
        starts = -(-np.arange(work) * full // work)
        size = (-(-full // work) + 2) | 1  # odd, for a centred window
        return size, np.clip(starts - 1 + size // 2, 0, full - 1)

    (rows_size, rows), (columns_size, columns) = windows(pixels.shape[0], shape[0]), windows(pixels.shape[1], shape[1])
    kernel = np.ones((rows_size, columns_size), np.uint8)
    return cv2.erode(pixels, kernel)[rows][:, columns], cv2.dilate(pixels, kernel)[rows][:, columns]


def remove_background(
    image: Image.Image,
    *,
    model: str = DEFAULT_MODEL,
    precision: Precision = "auto",
    refine_edges: bool = True,
    alpha_matting: bool = False,
    alpha_matting_foreground_threshold: int = 240,
    alpha_matting_background_threshold: int = 10,
    alpha_matting_erode_size: int = 10,
    post_process_mask: bool = False,
    only_mask: bool = False,
    bgcolor: RGBAColor | None = None,
    decontaminate: Decontaminate = "fast",
    vitmatte: bool = False,
) -> Cutout:
    """Cut the subject out of ``image``.

    Args:
        image: any PIL image; it is made upright by its EXIF orientation. Transparent areas stay transparent.
        model: a rembg session name (see :data:`AVAILABLE_MODELS` and :func:`list_models`).
        precision: ``"auto"``, ``"fast"`` or ``"exact"`` (see the module's docstring).
        refine_edges: refine the network's mask along the photo's edges (:func:`refine_mask`). On by default:
            it lowers the mean absolute error on both evaluation sets at a fraction of alpha matting's cost.
            Turn it off (with ``precision="exact"``) to get rembg's own mask.
        alpha_matting: rembg's alpha matting (pymatting's closed-form matting on a trimap made from the mask).
            Slow and memory-hungry on large photos (20–30 s and several GB for 12 MP on 2 cores).
        alpha_matting_foreground_threshold: mask values above this are sure foreground in the trimap.
        alpha_matting_background_threshold: mask values below this are sure background in the trimap.
        alpha_matting_erode_size: how far (pixels) the sure regions are eroded, widening the unknown band.
        post_process_mask: rembg's morphological smoothing of the mask (opening, blur, threshold: a hard mask).
        only_mask: return the mask itself (mode "L") as the image.
        bgcolor: RGBA colour to fill the background with instead of leaving it transparent.
        decontaminate: the colour kept under a soft edge (see :mod:`pipeline.matting`): ``"fast"`` (default)
            estimates the subject's own colour there, so the old background does not fringe the new one;
            ``"rembg"`` is rembg's ``decontaminate_cutout`` (slow at full size); ``"off"`` keeps the photo's
            colours. Alpha matting estimates the colour itself and ignores this; so does a photo with
            transparency of its own, whose colours are kept.
        vitmatte: rembg's ViTMatte refinement of the mask (its model needs the internet once; it takes
            precedence over alpha matting and uses its thresholds and erode size for the trimap).

    Returns:
        A :class:`Cutout`, straight alpha (colours not darkened as in rembg's default cut-out).
    """
    if decontaminate not in matting.DECONTAMINATE_MODES:
        raise ValueError(f"decontaminate must be one of {matting.DECONTAMINATE_MODES}, not {decontaminate!r}")
    turned = upright(image)
    photo = network_photo(turned)
    pixels = np.asarray(photo)  # once: Pillow→NumPy costs ~50 ms at 12 MP
    mask = network_mask = _network_mask(photo, model, precision)
    if refine_edges:
        mask = _guided_refinement(photo, pixels, mask, EdgeRefinement())
    if post_process_mask:
        mask = rembg_bg.post_process(mask)
    if vitmatte:
        mask = np.asarray(matting.vitmatte_alpha(
            photo, Image.fromarray(mask, mode="L"), foreground_threshold=alpha_matting_foreground_threshold,
            background_threshold=alpha_matting_background_threshold, erode_size=alpha_matting_erode_size))
    mask = keep_own_transparency(mask, turned)
    mask_image = Image.fromarray(mask, mode="L")
    if only_mask:
        return Cutout(image=mask_image, mask=mask_image, network_mask=network_mask)

    cutout = None
    if alpha_matting and not vitmatte:
        try:
            cutout = rembg_bg.alpha_matting_cutout(photo, mask_image, alpha_matting_foreground_threshold,
                                                   alpha_matting_background_threshold, alpha_matting_erode_size)
            mask_image = cutout.getchannel("A")
        except ValueError:  # no unknown band or no sure region: like rembg, fall back to the plain cut-out
            pass
    if cutout is None:
        if turned.has_transparency_data:  # its own colours are kept, under its own alpha
            cutout = with_alpha(turned, mask_image)
        else:
            cutout = matting.cutout(pixels, mask, decontaminate)
    if bgcolor is not None:
        cutout = rembg_bg.apply_background_color(cutout, bgcolor)
    return Cutout(image=cutout, mask=mask_image, network_mask=network_mask)


def checkerboard_preview(image: Image.Image, max_side: int = 1600, square: int = 12) -> Image.Image:
    """An image shown over a light checkerboard, so its transparency is visible, at most ``max_side`` px (RGB)."""
    preview = ImageOps.contain(image, (max_side, max_side)) if max(image.size) > max_side else image
    preview = preview.convert("RGBA")
    rows, columns = np.indices((preview.height, preview.width)) // square
    board = np.where(((rows + columns) % 2 == 0)[..., None], np.uint8(255), np.uint8(204)).repeat(3, axis=2)
    canvas = Image.fromarray(board, mode="RGB")
    canvas.paste(preview, mask=preview.getchannel("A"))
    return canvas
