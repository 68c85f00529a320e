"""INT8 U²-Net: NNCF post-training quantization, made once on this machine and cached in the model store.

No quantized file is shipped or downloaded: it is derived from the verified ``.onnx`` of the store and a
calibration set made here from the project's own bundled photos (``assets/samples`` and ``assets/backgrounds``,
public domain / CC0, see ``assets/LICENSES.md``): each photo, its mirror image, crops of it, composites of
each sample's subject (cut out by the f32 network) pasted onto the other photos at several sizes and places, and
the subjects with soft edges (blurred or motion-blurred masks) on generated studio-like backdrops (vivid solid
colours, gradients, fields of colour blobs).

The result is cached under ``<store>/derived/<model>-int8-<key>/``, where the key is a digest of the source file's
checksum and the :class:`Recipe` (calibration set, NNCF options, NNCF and OpenVINO versions), with a
``SHA256SUMS`` sidecar written when it is built and checked before every load: a corrupt or partial build is
removed and built again, like any other file of the store.

Measured (u2net, every pair of ../shared/eval, against f32): IoU −0.0004 (DAVIS-dev) and −0.0009 (GrabCut), MAE
within 0.0004; the side outputs and their fusion kept float are what holds it (crops and mirrors of the bundled
photos alone, everything quantized, lost 0.009 and 0.022 IoU). The studio composites are for soft edges on vivid
backdrops (benchmarks/bench_softedge.py, default settings): without them INT8's alpha SAD was 1.03× plain
rembg's on GrabCut (f32 0.84×), with them 0.98× (DAVIS-dev 0.87× → 0.85×), with the edge refinement of then
(2026-12-04; retuned since: 0.97× and 0.83×). Building takes about 1 min of CPU (102 images).

Command line::

    python -m pipeline.quantize [MODEL ...]    # build (or verify) the INT8 network of u2net
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import logging
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from pipeline import models

if TYPE_CHECKING:
    import openvino as ov

ASSETS = models.PROJECT_ROOT / "assets"
CALIBRATION_DIRS = (ASSETS / "samples", ASSETS / "backgrounds")
INPUT_SIZE = 320  # rembg's U²-Net sessions feed 320×320
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
CHECKSUMS = "SHA256SUMS"


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the quantized network: part of its cache key."""

    preset: str = "mixed"  # NNCF QuantizationPreset: asymmetric activations suit the ReLU/sigmoid ranges here
    fast_bias_correction: bool = True
    # Convolutions left in float: U²-Net's side outputs and their fusion, whose outputs are the mask itself.
    keep_float: tuple[str, ...] = ("side1", "side2", "side3", "side4", "side5", "side6", "outconv")
    composites_per_subject: int = 8
    crops_per_photo: int = 2
    studio_per_subject: int = 6  # composites on generated studio-like backdrops, soft-edged
    seed: int = 0
    calibration_version: int = 2  # bump when the calibration images are made differently


RECIPE = Recipe()


def _versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in ("nncf", "openvino")}


@functools.cache
def cache_key(model: str, recipe: Recipe = RECIPE) -> str:
    """Digest of the source file's published checksum, the recipe, the calibration photos and the tool versions."""
    photos = {path.name: models.sha256_of(path) for path in _calibration_files()}
    payload = json.dumps({"source": models.spec(model).files[0].checksum, "recipe": dataclasses.asdict(recipe),
                          "photos": photos, **_versions()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def int8_dir(model: str, recipe: Recipe = RECIPE) -> Path:
    return models.derived_dir() / f"{model}-int8-{cache_key(model, recipe)}"


def _calibration_files() -> list[Path]:
    return sorted(path for folder in CALIBRATION_DIRS for path in folder.glob("*.jpg"))


def _to_input(photo: Image.Image) -> np.ndarray:
    """rembg's ``BaseSession.normalize`` for U²-Net (LANCZOS to 320², scaled by the maximum, ImageNet mean/std)."""
    pixels = np.asarray(photo.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.LANCZOS),
                        dtype=np.float64)
    pixels = (pixels / max(pixels.max(), 1e-6) - MEAN) / STD
    return pixels.transpose(2, 0, 1)[None].astype(np.float32)


def _saturated(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` random vivid colours (full saturation, random hue, bright), RGB floats in 0..255."""
    hue = rng.uniform(0, 6, count)
    value = rng.uniform(0.6, 1.0, count) * 255
    sector, frac = hue.astype(int) % 6, hue % 1
    rising, falling, zero = value * frac, value * (1 - frac), np.zeros(count)
    table = [(value, rising, zero), (falling, value, zero), (zero, value, rising),
             (zero, falling, value), (rising, zero, value), (value, zero, falling)]
    return np.array([np.array(table[s])[:, i] for i, s in enumerate(sector)])


def _studio_backdrop(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A generated studio-like backdrop: a solid chroma colour, a two-colour gradient or a field of vivid blobs."""
    kind = rng.integers(3)
    if kind == 0:
        pixels = np.broadcast_to(_saturated(rng, 1)[0], (height, width, 3)).copy()
    elif kind == 1:
        first, second = _saturated(rng, 2)
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:height, 0:width] / max(width, height)
        ramp = xs * np.cos(angle) + ys * np.sin(angle)
        ramp = (ramp - ramp.min()) / max(ramp.max() - ramp.min(), 1e-6)
        pixels = first + ramp[..., None] * (second - first)
    else:
        pixels = np.broadcast_to(_saturated(rng, 1)[0], (height, width, 3)).copy()
        ys, xs = np.mgrid[0:height, 0:width]
        for colour in _saturated(rng, int(rng.integers(3, 12))):
            cy, cx = rng.uniform(0, height), rng.uniform(0, width)
            radius = rng.uniform(0.05, 0.35) * max(width, height)
            weight = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * radius**2))[..., None]
            pixels = pixels * (1 - weight) + colour * weight
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB")
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 3)))


def _soft_alpha(rng: np.random.Generator, alpha: Image.Image) -> Image.Image:
    """The mask with soft edges: a Gaussian blur of random σ, or a motion blur of random length and direction."""
    if rng.random() < 0.5:
        return alpha.filter(ImageFilter.GaussianBlur(rng.uniform(1, 8)))
    mask = np.asarray(alpha, dtype=np.float64)
    length, angle = int(rng.integers(5, 25)), rng.uniform(0, np.pi)
    steps = np.linspace(-0.5, 0.5, length)
    blurred = np.zeros_like(mask)
    for step in steps:
        blurred += np.roll(mask, (round(step * length * np.sin(angle)), round(step * length * np.cos(angle))),
                           axis=(0, 1))
    return Image.fromarray(np.clip(blurred / length, 0, 255).astype(np.uint8), mode="L")


def calibration_images(subject_masks: dict[str, np.ndarray], recipe: Recipe = RECIPE) -> Iterator[Image.Image]:
    """The calibration photos: each bundled photo, its mirror, crops, and composites of the samples' subjects (on
    the other photos, and soft-edged on generated studio backdrops).

    Args:
        subject_masks: per sample file name, the network's f32 mask of it (uint8, the photo's size), used to cut
            its subject out for the composites.
        recipe: how many crops and composites, and the random seed.
    """
    rng = np.random.default_rng(recipe.seed)
    photos = {path.name: Image.open(path).convert("RGB") for path in _calibration_files()}
    for photo in photos.values():
        yield photo
        yield ImageOps.mirror(photo)
        for _ in range(recipe.crops_per_photo):
            scale = rng.uniform(0.5, 0.85)
            width, height = round(photo.width * scale), round(photo.height * scale)
            left, top = rng.integers(0, photo.width - width + 1), rng.integers(0, photo.height - height + 1)
            yield photo.crop((left, top, left + width, top + height))
    backdrops = list(photos.values())
    for name, mask in subject_masks.items():
        subject, alpha = photos[name], Image.fromarray(mask, mode="L")
        for _ in range(recipe.composites_per_subject):
            backdrop = backdrops[rng.integers(len(backdrops))]
            if backdrop is subject:
                continue
            canvas = backdrop.copy()
            scale = rng.uniform(0.4, 0.95) * min(canvas.width / subject.width, canvas.height / subject.height)
            size = (max(1, round(subject.width * scale)), max(1, round(subject.height * scale)))
            flip = rng.random() < 0.5
            pasted = ImageOps.mirror(subject) if flip else subject
            pasted_alpha = ImageOps.mirror(alpha) if flip else alpha
            left = int(rng.integers(0, canvas.width - size[0] + 1))
            top = int(rng.integers(0, canvas.height - size[1] + 1))
            canvas.paste(pasted.resize(size, Image.Resampling.BICUBIC), (left, top),
                         pasted_alpha.resize(size, Image.Resampling.BICUBIC))
            yield canvas
    for name, mask in subject_masks.items():  # studio-like: generated vivid backdrops, soft-edged subjects
        subject, alpha = photos[name], Image.fromarray(mask, mode="L")
        for _ in range(recipe.studio_per_subject):
            canvas = _studio_backdrop(rng, subject.width, subject.height)
            canvas.paste(subject, (0, 0), _soft_alpha(rng, alpha))
            yield ImageOps.mirror(canvas) if rng.random() < 0.5 else canvas


def _float_convolutions(network: ov.Model, prefixes: tuple[str, ...]) -> list[str]:
    """Names of the convolutions whose weights are named after one of ``prefixes`` (e.g. ``side1.weight``)."""
    names = []
    for op in network.get_ordered_ops():
        if op.get_type_name() != "Convolution":
            continue
        weight = op.input_value(1).get_node()
        while weight.get_type_name() != "Constant" and weight.get_input_size():
            weight = weight.input_value(0).get_node()
        if weight.get_friendly_name().split(".")[0] in prefixes:
            names.append(op.get_friendly_name())
    return names


def quantize_network(onnx_path: Path, inputs: list[np.ndarray], recipe: Recipe = RECIPE) -> ov.Model:
    """NNCF's post-training quantization of the network in ``onnx_path``, with its input fixed at 320×320."""
    import nncf

    network = models.openvino_core().read_model(onnx_path)
    network.reshape({network.inputs[0].get_any_name(): [1, 3, INPUT_SIZE, INPUT_SIZE]})
    from nncf.common.logging import nncf_logger

    keep = _float_convolutions(network, recipe.keep_float)
    # NNCF logs and draws its progress bar on stdout, which is a benchmark's report or the server's log: stderr.
    for handler in nncf_logger.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)
    with contextlib.redirect_stdout(sys.stderr):
        return nncf.quantize(
            network, nncf.Dataset(inputs), preset=nncf.QuantizationPreset(recipe.preset), subset_size=len(inputs),
            fast_bias_correction=recipe.fast_bias_correction,
            ignored_scope=nncf.IgnoredScope(names=keep) if keep else None)


def _subject_masks(model: str) -> dict[str, np.ndarray]:
    from pipeline.background import model_mask

    return {path.name: model_mask(Image.open(path), model=model, precision="exact")
            for path in sorted((ASSETS / "samples").glob("*.jpg"))}


def _verified(folder: Path, model: str) -> Path | None:
    """The INT8 ``.xml`` in ``folder`` if every file matches the sidecar written when it was built."""
    sums = folder / CHECKSUMS
    try:
        lines = sums.read_text().split("\n")
    except OSError:
        return None
    expected = dict(line.split("  ", 1)[::-1] for line in lines if line)
    if set(expected) != {f"{model}.xml", f"{model}.bin"}:
        return None
    if all(models.file_checksum_ok(folder / name, f"sha256:{digest}") for name, digest in expected.items()):
        return folder / f"{model}.xml"
    return None


def int8_path(model: str) -> Path | None:
    """The verified INT8 network of ``model`` if it has been built here, else None (never builds)."""
    return _verified(int8_dir(model), model)


def ensure_int8(model: str, recipe: Recipe = RECIPE) -> Path:
    """Build (once, under the store's lock) and verify the INT8 network of ``model``; return its ``.xml``.

    Takes a minute or two on 2 cores for u2net; a corrupt or partial earlier build is removed and made again.
    """

    folder = int8_dir(model, recipe)
    path = _verified(folder, model) or _build_int8(model, recipe, folder)
    if recipe == RECIPE:  # also when the build was already there: an upgrade finds the new one made elsewhere
        _remove_superseded_builds(model, folder)
    return path


def _build_int8(model: str, recipe: Recipe, folder: Path) -> Path:
    """Make ``folder``'s INT8 network (unless another process just did) and verify it; return its ``.xml``."""
    import openvino as ov

    with models.store_lock(folder.name):
        if (path := _verified(folder, model)) is not None:
            return path
        if folder.exists():
            print(f"{folder} failed its sha256 check; building it again", file=sys.stderr)
            shutil.rmtree(folder)
        source = models.ensure_model(model)
        inputs = [_to_input(image) for image in calibration_images(_subject_masks(model), recipe)]
        quantized = quantize_network(source, inputs, recipe)
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}.") as tmp:
            ov.save_model(quantized, Path(tmp) / f"{model}.xml", compress_to_fp16=False)
            sums = [f"{models.sha256_of(Path(tmp) / name)}  {name}" for name in (f"{model}.xml", f"{model}.bin")]
            (Path(tmp) / CHECKSUMS).write_text("\n".join(sums) + "\n")
            (Path(tmp) / "recipe.json").write_text(json.dumps(
                {"model": model, "recipe": dataclasses.asdict(recipe), **_versions()}, indent=1))
            Path(tmp).rename(folder)
    path = _verified(folder, model)
    if path is None:
        raise RuntimeError(f"the INT8 build in {folder} does not verify")
    return path


def _remove_superseded_builds(model: str, current: Path) -> None:
    """Delete the other INT8 builds of ``model`` in the store: made by an earlier recipe, source or NNCF/OpenVINO
    version, nothing will load them again (each is the size of the network, ~45 MB for u2net)."""
    for folder in current.parent.glob(f"{model}-int8-*"):
        if folder != current and folder.is_dir():
            with models.store_lock(folder.name):
                shutil.rmtree(folder, ignore_errors=True)


_builds: dict[str, threading.Thread] = {}
_builds_lock = threading.Lock()


def build_in_background(model: str) -> threading.Thread:
    """Start building ``model``'s INT8 network in a daemon thread (once per process); requests go on meanwhile."""
    with _builds_lock:
        thread = _builds.get(model)
        if thread is None:
            thread = threading.Thread(target=_build_quietly, args=(model,), name=f"int8-{model}", daemon=True)
            _builds[model] = thread
            thread.start()
        return thread


def _build_quietly(model: str) -> None:
    try:
        ensure_int8(model)
    except Exception as error:  # a failed build only means that requests keep their current precision
        print(f"INT8 build of {model} failed: {error}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or ["u2net"]
    for name in names:
        print(f"{name}: {ensure_int8(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
