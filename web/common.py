"""What every tab of the web shell shares: raw uploads into the intake, friendly errors, result files, previews."""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image, ImageColor

from pipeline.background import Cutout, checkerboard_preview
from pipeline.errors import PipelineError
from pipeline.intake import LoadedImage, OutputFormat, load_image, save_result

ASSETS = Path(__file__).resolve().parent.parent / "assets"
# The bundled sample photos every tab offers as examples (licences in assets/LICENSES.md).
SAMPLE_PHOTOS = [(ASSETS / "samples" / name, label) for name, label in
                 (("astronaut.jpg", "Person"), ("coffee.jpg", "Product"), ("chelsea.jpg", "Pet"),
                  ("rocket.jpg", "Object"))]


def photo_input(label: str = "Photo", **kwargs: Any) -> gr.Image:
    """An image input that hands the uploaded file to ``pipeline.intake`` untouched.

    ``gr.Image`` opens every upload with Pillow before the event runs, so a corrupt, empty or bomb-sized
    file would end in a bare "Error"; here the intake reads it and says what is wrong. The file is also
    kept as uploaded (EXIF orientation, 16-bit samples, transparency), not re-encoded. (Overridden on the
    instance: a subclass of a Gradio component makes Gradio write a .pyi stub beside this file.)
    """
    component = gr.Image(label=label, type="filepath", image_mode=None, **kwargs)

    def raw_upload_path(payload: Any) -> str | None:
        if payload is None:
            return None
        if payload.url and payload.url.startswith("data:"):
            return gr.Image.preprocess(component, payload)
        return payload.path

    component.preprocess = raw_upload_path  # type: ignore[method-assign]
    return component


def friendly_errors(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Show a pipeline error as a message to the user instead of a traceback."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except PipelineError as error:
            raise gr.Error(error.message, print_exception=False) from None

    return wrapper


def read_upload(path: str | None, what: str = "a photo") -> LoadedImage:
    """Load an uploaded file through the intake; notes (e.g. "first frame only") become warnings."""
    if not path:
        raise gr.Error(f"Please upload {what} first.", print_exception=False)
    loaded = load_image(path)
    for note in loaded.notes:
        gr.Warning(note)
    return loaded


def result_folder(prefix: str) -> Path:
    """A new folder for one request's result files, inside Gradio's cache: they are served from there without
    another copy, and deleted with the cache (``delete_cache``)."""
    cache = Path(gr.utils.get_upload_folder())
    cache.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=cache))


def send_result(tab_id: str) -> Callable[[str | None], tuple[str, gr.Tabs]]:
    """A click handler that carries a result file (full resolution, alpha kept) to another tab and opens it."""

    def send(path: str | None) -> tuple[str, gr.Tabs]:
        if not path:
            raise gr.Error("There is no result to send yet: run this tab first.", print_exception=False)
        return path, gr.Tabs(selected=tab_id)

    return send



PRECISION_CHOICES = [("Auto: the quickest precision that keeps the model's quality", "auto"),
                     ("Fast (bf16 on CPUs that have it)", "fast"), ("Exact (f32: rembg's own mask)", "exact"),
                     ("INT8 (NNCF: u2net within 0.001 IoU of exact; u2netp loses far more)", "int8")]
PREVIEW_SIDE = 1600  # before/after views are downsized to this; the files keep full resolution
# The sliders' previews are JPEG: two 1600 px views encode in ~20 ms, against ~1.8 s as lossless PNG (at 12 MP
# that was half the API's overhead). Downloads stay full resolution and lossless.
PREVIEW_FORMAT = "jpeg"
DOWNLOAD_FORMATS = [("PNG", "png"), ("WebP (lossless, usually smaller: for web shops)", "webp")]


def shown(image: Image.Image) -> Image.Image:
    """``image`` as a preview shows it: at most PREVIEW_SIDE px, transparency over a checkerboard (RGB).

    Downsized by Pillow's box filter after an integer reduction (``reducing_gap=1``: an area average, as OpenCV's
    INTER_AREA), colours premultiplied by alpha (no fringe of the hidden colours), all without turning the full
    image into an array: at 12 MP ~0.1 s of CPU for a cut-out, against ~0.4 s through NumPy and OpenCV.
    """
    scale = min(1.0, PREVIEW_SIDE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    transparent = image.mode == "RGBA"
    view = image.convert("RGBa" if transparent else "RGB") if image.mode != "RGB" else image
    if scale < 1:
        view = view.resize(size, Image.Resampling.BOX, reducing_gap=1.0)
    if not transparent:
        return view
    return Image.alpha_composite(checkerboard(size), view.convert("RGBA")).convert("RGB")


@functools.lru_cache(maxsize=8)
def checkerboard(size: tuple[int, int]) -> Image.Image:
    """The previews' checkerboard alone (RGBA), made once per size: the same photo is shown again and again."""
    return checkerboard_preview(Image.new("RGBA", size), max_side=max(size)).convert("RGBA")


def before_after(before: Image.Image, after: Image.Image) -> tuple[Image.Image, Image.Image]:
    """A before/after slider's pair, at most PREVIEW_SIDE px, transparency shown over a checkerboard."""
    return shown(before), shown(after)


def in_parallel(*jobs: Callable[[], Any]) -> list[Any]:
    """Run ``jobs`` on threads and return their results in order: the encoders and Pillow's resampling release
    the GIL, so a result's files and previews are made side by side."""
    with ThreadPoolExecutor(len(jobs)) as pool:
        return [future.result() for future in [pool.submit(job) for job in jobs]]


def without_hidden_colour(image: Image.Image) -> Image.Image:
    """``image`` with every fully transparent pixel (0, 0, 0, 0), as rembg's own cut-outs and lossless WebP have it.

    Nothing shows that colour (compositing here is premultiplied, super-resolution recolours it, feathering only
    lowers alpha), but it is most of a cut-out's pixels and compresses badly: a 12 MP cut-out's PNG is ~4× smaller
    and deflates ~2.5× faster without it. Every pixel with any alpha is kept exactly.
    """
    if image.mode != "RGBA":
        return image
    visible = image.getchannel("A").point(lambda value: 255 if value else 0)
    return Image.composite(image, Image.new("RGBA", image.size), visible)


def cutout_outputs(photo: LoadedImage, cutout: Cutout, *, model: str, started: float, action: str = "Done",
                   only_mask: bool = False, file_format: OutputFormat = "png") -> tuple[Any, str, str, str]:
    """The Remove background tab's outputs for a cut-out of ``photo``.

    Returns the before/after pair (over a checkerboard, downsized), the full-resolution cut-out (PNG, or lossless
    WebP; both without the colour under fully transparent pixels) and mask PNG, and a summary with the time since
    ``started``.
    """
    folder = result_folder("cutout-")
    kind = "mask" if only_mask else "cutout"
    # Compression level 1 writes a 12 MP PNG several times faster than the default.
    jobs = [lambda: save_result(without_hidden_colour(cutout.image) if file_format == "png" else cutout.image,
                                folder, photo.name, kind, file_format, png_compress_level=1),
            lambda: before_after(photo.image, cutout.image)]
    if not (only_mask and file_format == "png"):  # else the mask PNG is the file itself: written once
        jobs.append(lambda: save_result(cutout.mask, folder, photo.name, "mask", png_compress_level=1))
    file, preview, *mask = in_parallel(*jobs)
    width, height = cutout.image.size
    summary = f"{action} in {time.perf_counter() - started:.2f} s ({width}×{height} px, {model})."
    return preview, str(file), str(mask[0] if mask else file), summary


def parse_colour(value: str | None) -> tuple[int, int, int]:
    """A colour picker's value ("#rrggbb", "rgb(...)", a CSS name) as (r, g, b)."""
    try:
        return ImageColor.getrgb(value or "")[:3]  # type: ignore[return-value]
    except ValueError:
        raise gr.Error(f"“{value}” is not a colour; pick one with the colour picker.", print_exception=False) from None



