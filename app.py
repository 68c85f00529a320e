"""Backdrop Studio: the Gradio shell over ``pipeline/``.

This file lays out the UI and turns pipeline errors into friendly messages; the work is in ``pipeline/``.
Run with ``python app.py`` (honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image, ImageColor

from pipeline import models, superres
from pipeline.background import (
    AVAILABLE_MODELS,
    DEFAULT_MODEL,
    Cutout,
    checkerboard_preview,
    list_models,
    remove_background,
)
from pipeline.batch import batch_cutouts
from pipeline.compose import DEFAULT_BLUR_STRENGTH, ShadowOptions, compose
from pipeline.errors import PipelineError
from pipeline.intake import LoadedImage, load_image, save_result
from pipeline.touchup import strokes_by_colour, touch_up

TITLE = "Backdrop Studio"
ASSETS = Path(__file__).resolve().parent / "assets"
# The bundled sample photos every tab offers as examples (licences in assets/LICENSES.md).
SAMPLE_PHOTOS = [(ASSETS / "samples" / name, label) for name, label in
                 (("astronaut.jpg", "Person"), ("coffee.jpg", "Product"), ("chelsea.jpg", "Pet"),
                  ("rocket.jpg", "Object"))]
MAX_UPLOAD_SIZE = "100mb"  # a 40 MP PNG fits; the pixel limit itself is pipeline.intake's
PREFETCHED_MODELS = ("u2net", "u2netp", "single-image-super-resolution-1032-fp32",
                     "single-image-super-resolution-1033-fp32")


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


def model_table() -> list[list[str]]:
    """Every model the app knows, and whether it can be used here without the internet.

    Returns:
        Rows of [model, kind, available offline, official source].
    """
    rows = []
    for spec in models.MODELS.values():
        source = models.offline_source(spec.name)
        rows.append([spec.name, spec.kind, source or "no (needs the internet)", spec.files[0].url])
    return rows


PRECISION_CHOICES = [("Auto: fast where it keeps the model's quality", "auto"),
                     ("Fast (bf16 on CPUs that have it)", "fast"), ("Exact (f32: rembg's own mask)", "exact")]
PREVIEW_SIDE = 1600  # before/after views are downsized to this; the files keep full resolution


def before_after(before: Image.Image, after: Image.Image) -> tuple[Image.Image, Image.Image]:
    """A before/after slider's pair, at most PREVIEW_SIDE px, transparency shown over a checkerboard."""
    return checkerboard_preview(before, PREVIEW_SIDE), checkerboard_preview(after, PREVIEW_SIDE)


def removal_model_choices() -> list[tuple[str, str]]:
    """Every rembg session for the dropdown; those that cannot be used here say why."""
    return [(f"{info.name}: {info.description}" if info.available else f"{info.name} (unavailable: {info.note})",
             info.name) for info in list_models()]


@friendly_errors
def remove_photo_background(
    photo: str | None, model: str = DEFAULT_MODEL, precision: str = "auto", refine_edges: bool = True,
    alpha_matting: bool = False, alpha_matting_foreground_threshold: float = 240,
    alpha_matting_background_threshold: float = 10, alpha_matting_erode_size: float = 10,
    post_process_mask: bool = False, only_mask: bool = False, fill_background: bool = False,
    background_colour: str = "#ffffff", background_opacity: float = 255,
    progress: gr.Progress = gr.Progress(),  # noqa: B008
) -> tuple[Any, str, str, str]:
    """Remove the background of a photo with rembg's U²-Net models (run on OpenVINO).

    Args:
        photo: the photo.
        model: the rembg session, e.g. "u2net" (default, best available offline) or "u2netp" (fast).
        precision: "auto" (fast where it keeps the model's quality), "fast" (bf16) or "exact" (f32, rembg's mask).
        refine_edges: refine the mask along the photo's edges (a guided filter; on by default).
        alpha_matting: rembg's alpha matting of the edges (slow on large photos).
        alpha_matting_foreground_threshold: mask values above this are sure foreground (0–255).
        alpha_matting_background_threshold: mask values below this are sure background (0–255).
        alpha_matting_erode_size: erosion of the sure regions, in pixels.
        post_process_mask: rembg's morphological smoothing of the mask (gives a hard edge).
        only_mask: the PNG holds the mask instead of the cut-out.
        fill_background: fill the background with background_colour instead of leaving it transparent.
        background_colour: the fill colour, e.g. "#ffffff".
        background_opacity: the fill's opacity, 0–255.

    Returns:
        The original and the cut-out (over a checkerboard) for comparison, the full-resolution cut-out as a
        PNG with its alpha, the mask as a PNG, and the time taken.
    """
    return cut_out(photo, model, precision, refine_edges, alpha_matting, alpha_matting_foreground_threshold,
                   alpha_matting_background_threshold, alpha_matting_erode_size, post_process_mask, only_mask,
                   fill_background, background_colour, background_opacity, progress=progress)[0]


@friendly_errors
def cut_out_for_touch_up(*options: Any, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
    """The page's Run button: the cut-out (as ``remove_photo_background``, same inputs), then the touch-up panel
    opened on the photo, with the network's mask kept for touch-ups."""
    outputs, cutout = cut_out(*options, progress=progress)
    canvas = outputs[0][0]  # the slider's "before": the photo at preview size
    session = TouchUpSession(photo=options[0], model=options[1], prior=cutout.network_mask, canvas=canvas,
                             original=outputs)
    return (*outputs, session, canvas, gr.Column(visible=True))


def cut_out(photo: str | None, model: str, precision: str, refine_edges: bool, alpha_matting: bool,
            alpha_matting_foreground_threshold: float, alpha_matting_background_threshold: float,
            alpha_matting_erode_size: float, post_process_mask: bool, only_mask: bool, fill_background: bool,
            background_colour: str, background_opacity: float,
            progress: gr.Progress) -> tuple[tuple[Any, str, str, str], Cutout]:
    """Run the cut-out; return the tab's outputs and the cut-out."""
    started = time.perf_counter()
    loaded = read_upload(photo)
    bgcolor = (*parse_colour(background_colour), round(background_opacity)) if fill_background else None
    progress(0, desc=f"Cutting out with {model}")
    cutout = remove_background(
        loaded.image, model=model, precision=precision, refine_edges=refine_edges, alpha_matting=alpha_matting,
        alpha_matting_foreground_threshold=round(alpha_matting_foreground_threshold),
        alpha_matting_background_threshold=round(alpha_matting_background_threshold),
        alpha_matting_erode_size=round(alpha_matting_erode_size), post_process_mask=post_process_mask,
        only_mask=only_mask, bgcolor=bgcolor)
    progress(0.9, desc="Writing the PNG")
    return cutout_outputs(loaded, cutout, model=model, started=started, only_mask=only_mask), cutout


def cutout_outputs(photo: LoadedImage, cutout: Cutout, *, model: str, started: float, action: str = "Done",
                   only_mask: bool = False) -> tuple[Any, str, str, str]:
    """The Remove background tab's outputs for a cut-out of ``photo``.

    Returns the before/after pair (over a checkerboard, downsized), the full-resolution PNG and mask PNG,
    and a summary with the time since ``started``.
    """
    # Compression level 1 writes a 12 MP PNG several times faster than the default.
    folder = result_folder("cutout-")
    png = save_result(cutout.image, folder, photo.name, "mask" if only_mask else "cutout", png_compress_level=1)
    mask_png = png if only_mask else save_result(cutout.mask, folder, photo.name, "mask", png_compress_level=1)
    preview = before_after(photo.image, cutout.image)
    width, height = cutout.image.size
    summary = f"{action} in {time.perf_counter() - started:.2f} s ({width}×{height} px, {model})."
    return preview, str(png), str(mask_png), summary


KEEP_COLOUR, REMOVE_COLOUR = "#22c55e", "#ef4444"  # pipeline.touchup tells the brushes apart by green vs red
STROKE_PROPORTION_TOLERANCE = 0.02  # a stroke mask may be a rounded, scaled-down copy of the photo's frame
NO_STROKES = "Paint a stroke first: green on what to keep, red on what to remove."


@dataclasses.dataclass(frozen=True)
class TouchUpSession:
    """What a browser session keeps after a cut-out, so that touch-ups do not run the network again."""

    photo: str  # the uploaded file
    model: str
    prior: np.ndarray  # the network's mask (uint8, full size), which the strokes correct
    canvas: Image.Image  # the photo as painted on in the editor, at most PREVIEW_SIDE px
    original: tuple[Any, str, str, str]  # the cut-out's outputs, shown again by Reset


def read_stroke_mask(path: str | None, which: str, photo: Image.Image) -> Image.Image | None:
    """A stroke mask sent through the API; it must have the photo's proportions, as it is stretched to its size."""
    if not path:
        return None
    try:
        layer = load_image(path).image
    except PipelineError as error:
        raise gr.Error(f"The {which} stroke mask: {error.message}", print_exception=False) from None
    mismatch = abs(layer.width * photo.height - layer.height * photo.width)
    if mismatch > STROKE_PROPORTION_TOLERANCE * layer.height * photo.width:
        raise gr.Error(f"The {which} stroke mask is {layer.width}×{layer.height} px, the photo {photo.width}×"
                       f"{photo.height} px: paint the strokes on the photo or on a scaled copy of it.",
                       print_exception=False)
    return layer


@friendly_errors
def touch_up_photo(
    photo: str | None, keep: str | None = None, remove: str | None = None, model: str = DEFAULT_MODEL,
    precision: str = "auto", refine_edges: bool = True,
    progress: gr.Progress = gr.Progress(),  # noqa: B008
) -> tuple[Any, str, str, str]:
    """Correct a cut-out with brush strokes: "keep" on what belongs to the subject, "remove" on what does not.

    The model's mask is re-segmented from the strokes (OpenCV GrabCut): a region of change counts only where it
    touches a stroke of its kind, so the rest of the mask stays as the model made it.

    Args:
        photo: the photo.
        keep: an image of the strokes on what must be kept: painted pixels are nonzero, or opaque if the image has
            transparency (as an editor layer). Same proportions as the photo, any size (it is stretched).
        remove: an image of the strokes on what must be removed, in the same form.
        model: the rembg session whose mask is corrected, e.g. "u2net" (default) or "u2netp" (fast).
        precision: "auto" (fast where it keeps the model's quality), "fast" (bf16) or "exact" (f32).
        refine_edges: refine the mask along the photo's edges (a guided filter; on by default).

    Returns:
        The original and the corrected cut-out (over a checkerboard) for comparison, the full-resolution cut-out
        as a PNG with its alpha, the mask as a PNG, and the time taken.
    """
    started = time.perf_counter()
    loaded = read_upload(photo)
    if not keep and not remove:
        raise gr.Error("Give at least one stroke mask: keep (on the subject) or remove (on the background).",
                       print_exception=False)
    keep_layer = read_stroke_mask(keep, "keep", loaded.image)
    remove_layer = read_stroke_mask(remove, "remove", loaded.image)
    progress(0, desc=f"Touching up the {model} cut-out")
    cutout = touch_up(loaded.image, keep_layer, remove_layer, model=model, precision=precision,
                      refine_edges=refine_edges)
    progress(0.9, desc="Writing the PNG")
    return cutout_outputs(loaded, cutout, model=model, started=started, action="Touched up")


@friendly_errors
def apply_touch_up(session: TouchUpSession | None, strokes: dict[str, Any] | None, refine_edges: bool,
                   progress: gr.Progress = gr.Progress()) -> tuple[Any, str, str, str]:  # noqa: B008
    """Re-segment the photo of ``session`` from the editor's strokes (all of them, on the network's mask)."""
    if session is None:
        raise gr.Error("Remove the background first, then paint on the photo.", print_exception=False)
    if not strokes or not strokes["layers"]:
        raise gr.Error(NO_STROKES, print_exception=False)
    keep, remove = strokes_by_colour(strokes["layers"])
    if not keep.any() and not remove.any():
        raise gr.Error(NO_STROKES, print_exception=False)
    started = time.perf_counter()
    photo = load_image(session.photo)
    progress(0, desc="Touching up")
    cutout = touch_up(photo.image, keep, remove, prior=session.prior, refine_edges=refine_edges)
    progress(0.9, desc="Writing the PNG")
    return cutout_outputs(photo, cutout, model=session.model, started=started, action="Touched up")


def reset_touch_up(session: TouchUpSession | None) -> tuple[Any, ...]:
    """Back to the model's cut-out: the editor without strokes and the cut-out's own outputs."""
    if session is None:
        raise gr.Error("Nothing to reset: remove the background first.", print_exception=False)
    return session.canvas, *session.original


def remove_background_tab() -> gr.File:
    """The Remove background tab; returns the file component holding the cut-out PNG, for other tabs to take."""
    gr.Markdown("Cut the subject out of a photo with rembg's U²-Net models, run on OpenVINO. "
                "The PNG keeps the full resolution and the transparency.")
    with gr.Row():
        with gr.Column():
            photo = photo_input("Photo", elem_id="remove-photo")
            model = gr.Dropdown(removal_model_choices(), value=DEFAULT_MODEL, label="Model", elem_id="remove-model",
                                info="u2net: best offline; u2netp: fastest. Models marked unavailable need the "
                                     "internet or are not offered here.")
            with gr.Accordion("Options", open=False):
                refine_edges = gr.Checkbox(True, label="Refine edges (guided by the photo)")
                precision = gr.Dropdown(PRECISION_CHOICES, value="auto", label="Precision")
                alpha_matting = gr.Checkbox(False, label="Alpha matting (slow: about 30 s on a 12 MP photo)")
                with gr.Row():
                    foreground_threshold = gr.Slider(0, 255, value=240, step=1, label="Foreground threshold")
                    background_threshold = gr.Slider(0, 255, value=10, step=1, label="Background threshold")
                    erode_size = gr.Slider(0, 40, value=10, step=1, label="Erode size (px)")
                post_process = gr.Checkbox(False, label="Post-process the mask (smooth, hard edge)")
                only_mask = gr.Checkbox(False, label="Mask only")
                fill_background = gr.Checkbox(False, label="Fill the background with a colour")
                with gr.Row():
                    background_colour = gr.ColorPicker("#ffffff", label="Background colour")
                    background_opacity = gr.Slider(0, 255, value=255, step=1, label="Background opacity")
            run = gr.Button("Remove background", variant="primary", elem_id="remove-run")
            with gr.Column(visible=False) as touch_up_panel:
                gr.Markdown("**Touch up.** Wrong cut-out? Paint on the photo with the **green** brush over what "
                            "must stay and the **red** brush over what must go (a short stroke is enough), then "
                            "press Apply. Strokes add up; Reset returns to the model's cut-out. The touched-up "
                            "PNG is a plain cut-out (of the options, only edge refinement applies).")
                editor = gr.ImageEditor(
                    label="Keep (green) / remove (red) strokes", elem_id="touchup-editor", type="numpy",
                    image_mode="RGBA", sources=(), transforms=(), interactive=True,
                    brush=gr.Brush(colors=[KEEP_COLOUR, REMOVE_COLOUR], color_mode="fixed"),
                    layers=gr.LayerOptions(layers=["Strokes"]))
                with gr.Row():
                    apply = gr.Button("Apply", variant="primary", elem_id="touchup-apply")
                    reset = gr.Button("Reset", elem_id="touchup-reset")
        with gr.Column():
            comparison = gr.ImageSlider(label="Original ↔ cut-out", type="pil", format="png",
                                        elem_id="remove-comparison")
            cutout_file = gr.File(label="Cut-out (full-resolution PNG with transparency)", elem_id="remove-file")
            # image_mode=None: read back for Reset as the file it is, not re-encoded.
            mask = gr.Image(label="Mask", type="filepath", format="png", image_mode=None, interactive=False)
            timing = gr.Markdown(label="Time taken", elem_id="remove-timing")
    # The stroke masks of the touch_up endpoint (scripts send them; the page paints in the editor instead).
    keep_strokes = photo_input("Keep strokes (mask image)", visible=False)
    remove_strokes = photo_input("Remove strokes (mask image)", visible=False)
    session = gr.State()
    results = [comparison, cutout_file, mask, timing]
    options = [photo, model, precision, refine_edges, alpha_matting, foreground_threshold, background_threshold,
               erode_size, post_process, only_mask, fill_background, background_colour, background_opacity]
    run.click(cut_out_for_touch_up, options, [*results, session, editor, touch_up_panel], api_visibility="private")
    gr.Examples([[str(path)] for path, _ in SAMPLE_PHOTOS], [photo], results, remove_photo_background,
                cache_examples=True, cache_mode="lazy", example_labels=[label for _, label in SAMPLE_PHOTOS])
    apply.click(apply_touch_up, [session, editor, refine_edges], results, api_visibility="private")
    reset.click(reset_touch_up, session, [editor, *results], api_visibility="private", concurrency_limit=None)
    # A new photo: the touch-up panel belonged to the old one's cut-out, so it closes until the next Run.
    photo.change(lambda: (None, gr.Column(visible=False)), None, [session, touch_up_panel], api_visibility="private",
                 concurrency_limit=None)
    # API only (no trigger on the page): the cut-out without the page's touch-up state, and the touch-up with
    # the photo and stroke masks as files.
    gr.on([], remove_photo_background, options, results, api_name="remove_background")
    gr.on([], touch_up_photo, [photo, keep_strokes, remove_strokes, model, precision, refine_edges], results,
          api_name="touch_up")
    return cutout_file


SLIDER_MAX_SIDE = 1280  # larger results are compared on a 100% centre crop of at most this size
SCALE_CHOICES = [("×2", 2), ("×3", 3), ("×4", 4)]


def comparison_pair(original: Image.Image, enhanced: Image.Image, scale: int) -> tuple[Image.Image, Image.Image, str]:
    """Bicubic and enhanced views of the same region (the whole image, or a 100% centre crop when it is large)."""
    width, height = enhanced.size
    crop_w, crop_h = min(width, SLIDER_MAX_SIDE), min(height, SLIDER_MAX_SIDE)
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    # The bicubic view of just that region, computed from the original (box= reaches outside it as needed).
    bicubic = original.resize((crop_w, crop_h), Image.Resampling.BICUBIC,
                              box=(left / scale, top / scale, (left + crop_w) / scale, (top + crop_h) / scale))
    enhanced_view = enhanced.crop((left, top, left + crop_w, top + crop_h))
    note = "" if (crop_w, crop_h) == (width, height) else \
        f" The slider shows a 100% centre crop ({crop_w}×{crop_h}); the PNG holds the full image."
    return bicubic, enhanced_view, note


@friendly_errors
def enhance_resolution(image: str | None, scale: int = 4,
                       progress: gr.Progress = gr.Progress()) -> tuple[Any, str, str]:  # noqa: B008
    """Upscale a photo or a cut-out ×2, ×3 or ×4 with OpenVINO super-resolution; transparency is kept.

    Args:
        image: the photo, or a cut-out with transparency (PNG).
        scale: the enlargement factor: 2, 3 or 4.

    Returns:
        Bicubic and enhanced views of the same region for comparison, the full-resolution result as a PNG file,
        and its size with the time taken.
    """
    started = time.perf_counter()
    photo = read_upload(image)
    scale = int(scale)
    enhanced = superres.upscale(photo.image, scale, progress=lambda done, message: progress(done, desc=message))
    progress(1.0, desc="Writing the PNG")
    # Fast PNG compression: at level 6 a 16 MP result takes ~15 s to write, at level 1 ~3 s (files ~15% larger).
    png = save_result(enhanced, result_folder("enhance-"), photo.name, f"x{scale}", png_compress_level=1)
    bicubic, enhanced_view, note = comparison_pair(photo.image, enhanced, scale)
    width, height = enhanced.size
    summary = (f"{photo.image.width}×{photo.image.height} → {width}×{height} px ({width * height / 1e6:.1f} MP), "
               f"×{scale} in {time.perf_counter() - started:.1f} s.{note}")
    return (bicubic, enhanced_view), str(png), summary


def enhance_resolution_tab() -> tuple[gr.Image, gr.File, gr.Button]:
    """The Enhance resolution tab; returns its image input, its result file and its "send to Superimpose" button,
    for the tabs to be chained."""
    gr.Markdown("Upscale a photo or a cut-out ×2, ×3 or ×4 with Intel's super-resolution networks (OpenVINO). "
                f"Transparency is kept. Results are limited to {superres.MAX_OUTPUT_PIXELS / 1e6:.0f} MP. "
                "Large images are processed in tiles; the progress bar counts them.")
    with gr.Row():
        with gr.Column():
            image = photo_input("Photo or cut-out", format="png", elem_id="enhance-input")
            scale = gr.Radio(SCALE_CHOICES, value=4, label="Scale")
            run = gr.Button("Enhance", variant="primary", elem_id="enhance-run")
        with gr.Column():
            comparison = gr.ImageSlider(label="Bicubic ↔ enhanced", format="png", type="pil",
                                        elem_id="enhance-comparison")
            gr.Markdown(f"Results larger than {SLIDER_MAX_SIDE} px on a side are compared on a 100% centre crop; "
                        "the PNG below is always the full image.")
            result_file = gr.File(label="Full-resolution PNG", elem_id="enhance-file")
            summary = gr.Textbox(label="Output size and time taken", interactive=False, elem_id="enhance-summary")
            send_to_superimpose = gr.Button("Send to Superimpose →", size="sm", elem_id="enhance-send-superimpose")
    run.click(enhance_resolution, [image, scale], [comparison, result_file, summary], api_name="enhance_resolution")
    gr.Examples([[str(path)] for path, _ in SAMPLE_PHOTOS], [image], [comparison, result_file, summary],
                enhance_resolution, cache_examples=True, cache_mode="lazy",
                example_labels=[f"{label} (×4)" for _, label in SAMPLE_PHOTOS])
    return image, result_file, send_to_superimpose


SAMPLE_BACKGROUNDS = sorted((ASSETS / "backgrounds").glob("*.jpg"))
# Example pairs for the Superimpose tab: (sample photo, sample background).
SUPERIMPOSE_EXAMPLES = [("chelsea.jpg", "bokeh.jpg"), ("coffee.jpg", "studio-sweep.jpg"),
                        ("astronaut.jpg", "gradient.jpg"), ("rocket.jpg", "floor-wall.jpg")]
BACKGROUND_KINDS = [("Image (upload or pick a sample)", "image"), ("Colour", "color"),
                    ("Blur the original photo", "blur")]
ANCHOR_CHOICES = [("As in the photo", "original"), ("Centre", "center"), ("Bottom centre", "bottom-center"),
                  ("Bottom left", "bottom-left"), ("Bottom right", "bottom-right"), ("Top centre", "top-center"),
                  ("Top left", "top-left"), ("Top right", "top-right"), ("Centre left", "center-left"),
                  ("Centre right", "center-right")]


def parse_colour(value: str | None) -> tuple[int, int, int]:
    """A colour picker's value ("#rrggbb", "rgb(...)", a CSS name) as (r, g, b)."""
    try:
        return ImageColor.getrgb(value or "")[:3]  # type: ignore[return-value]
    except ValueError:
        raise gr.Error(f"“{value}” is not a colour; pick one with the colour picker.", print_exception=False) from None


@friendly_errors
def superimpose_photo(foreground: str | None, background: str | None = None, background_kind: str = "image",
                      colour: str = "#ffffff", blur_strength: float = DEFAULT_BLUR_STRENGTH, fit: str = "cover",
                      output_size: str = "background", size_percent: float = 0, anchor: str = "original",
                      offset_x: float = 0, offset_y: float = 0, feather: float = 0, shadow: bool = False,
                      shadow_opacity: float = 0.5, shadow_blur: float = 12, shadow_x: float = 12,
                      shadow_y: float = 16, model: str = DEFAULT_MODEL,
                      progress: gr.Progress = gr.Progress()) -> tuple[Any, str, str, str]:  # noqa: B008
    """Put the subject of a photo (or of an RGBA cut-out) on a new background.

    Args:
        foreground: the photo, whose background is removed first, or a cut-out with transparency.
        background: the background image (used when background_kind is "image").
        background_kind: "image", "color" (a solid colour) or "blur" (the original photo, blurred).
        colour: the background colour for "color", e.g. "#ffffff".
        blur_strength: for "blur", the blur's σ as a percentage of the photo's longer side.
        fit: how the background image fills the output: "cover", "contain" or "stretch".
        output_size: the output takes the "background" image's size or the "foreground"'s.
        size_percent: the subject's size as a percentage of the output; 0 keeps its size in the photo.
        anchor: where the subject goes: "original", "center", "bottom-center", "top-left", ...
        offset_x: pixels to move the subject right (negative: left).
        offset_y: pixels to move the subject down (negative: up).
        feather: softens the subject's edge over this many pixels.
        shadow: whether to add a drop shadow under the subject.
        shadow_opacity: the shadow's darkness, 0..1.
        shadow_blur: the shadow's softness in pixels.
        shadow_x: the shadow's shift to the right in pixels.
        shadow_y: the shadow's shift down in pixels.
        model: the background-removal model used when the foreground is a photo.

    Returns:
        Before/after preview, the composite as a full-resolution PNG and JPEG, and the time taken.
    """
    started = time.perf_counter()
    photo = read_upload(foreground, "a foreground photo or cut-out")
    if background_kind == "image":
        backdrop: Image.Image | tuple[int, int, int] | None = read_upload(
            background, "a background image (or pick a sample)").image
    else:
        backdrop = parse_colour(colour) if background_kind == "color" else None
    progress(0, desc="Cutting out and compositing")
    composite = compose(
        photo.image, backdrop, background_mode=background_kind, blur_strength=blur_strength, fit=fit,
        output_size=output_size, scale=size_percent / 100 or None, anchor=anchor,
        offset=(round(offset_x or 0), round(offset_y or 0)), feather=feather, remove_model=model,  # empty box: 0
        shadow=ShadowOptions(offset=(round(shadow_x or 0), round(shadow_y or 0)), blur=shadow_blur,
                             opacity=shadow_opacity) if shadow else None)
    folder = result_folder("superimpose-")
    png = save_result(composite.image, folder, photo.name, "composite", "png", png_compress_level=1)
    jpeg = save_result(composite.image, folder, photo.name, "composite", "jpeg")
    width, height = composite.image.size
    summary = f"Done in {time.perf_counter() - started:.2f} s ({width}×{height} px)."
    return before_after(composite.before(), composite.image), str(png), str(jpeg), summary


def pick_sample_background(selected: gr.SelectData) -> tuple[str, str]:
    return str(SAMPLE_BACKGROUNDS[selected.index]), "image"


def show_background_controls(kind: str) -> tuple[Any, Any, Any]:
    return gr.update(visible=kind == "image"), gr.update(visible=kind == "color"), gr.update(visible=kind == "blur")


def superimpose_tab() -> gr.Image:
    """The Superimpose tab; returns its foreground input, so another tab can send a cut-out there."""
    gr.Markdown("Put a subject on a new background. Give a photo (its background is removed for you) or a "
                "cut-out with transparency.")
    with gr.Row():
        with gr.Column():
            foreground = photo_input("Foreground: photo or cut-out", format="png", elem_id="superimpose-foreground")
            background_kind = gr.Radio(BACKGROUND_KINDS, value="image", label="Background")
            with gr.Group() as image_controls:
                background = photo_input("Background image")
                samples = gr.Gallery([(str(path), path.stem.replace("-", " ").capitalize())
                                      for path in SAMPLE_BACKGROUNDS], label="Samples (click one)", columns=4, rows=1,
                                     height=170, allow_preview=False, object_fit="cover", interactive=False)
                with gr.Row():
                    fit = gr.Radio([("Cover (crop)", "cover"), ("Contain (pad)", "contain"), ("Stretch", "stretch")],
                                   value="cover", label="Fit of the background")
                    output_size = gr.Radio([("Background's", "background"), ("Foreground's", "foreground")],
                                           value="background", label="Output size")
            colour = gr.ColorPicker("#ffffff", label="Background colour", visible=False)
            blur_strength = gr.Slider(0, 10, value=DEFAULT_BLUR_STRENGTH, step=0.1, visible=False,
                                      label="Blur strength (% of the photo's size)")
            with gr.Accordion("Placement", open=True):
                anchor = gr.Dropdown(ANCHOR_CHOICES, value="original", label="Position")
                size_percent = gr.Slider(0, 150, value=0, step=1,
                                         label="Subject size, % of the output (0 = as in the photo)")
                with gr.Row():
                    offset_x = gr.Number(0, label="Move right (px)", precision=0)
                    offset_y = gr.Number(0, label="Move down (px)", precision=0)
            with gr.Accordion("Edge and shadow", open=False):
                feather = gr.Slider(0, 50, value=0, step=0.5, label="Feather the edge (px)")
                shadow = gr.Checkbox(False, label="Drop shadow")
                with gr.Row():
                    shadow_opacity = gr.Slider(0, 1, value=0.5, step=0.05, label="Shadow opacity")
                    shadow_blur = gr.Slider(0, 100, value=12, step=1, label="Shadow softness (px)")
                with gr.Row():
                    shadow_x = gr.Number(12, label="Shadow right (px)", precision=0)
                    shadow_y = gr.Number(16, label="Shadow down (px)", precision=0)
            model = gr.Dropdown(list(AVAILABLE_MODELS), value=DEFAULT_MODEL, label="Cut-out model (for photos)")
            run = gr.Button("Superimpose", variant="primary", elem_id="superimpose-run")
        with gr.Column():
            comparison = gr.ImageSlider(label="Before / after", type="pil", elem_id="superimpose-comparison")
            with gr.Row():
                png = gr.File(label="PNG (full resolution)", elem_id="superimpose-png")
                jpeg = gr.File(label="JPEG (full resolution)", elem_id="superimpose-jpeg")
            timing = gr.Markdown(label="Time taken", elem_id="superimpose-timing")

    background_kind.change(show_background_controls, background_kind, [image_controls, colour, blur_strength],
                           api_visibility="private", concurrency_limit=None)
    samples.select(pick_sample_background, None, [background, background_kind], api_visibility="private",
                   concurrency_limit=None)
    run.click(superimpose_photo,
              [foreground, background, background_kind, colour, blur_strength, fit, output_size, size_percent,
               anchor, offset_x, offset_y, feather, shadow, shadow_opacity, shadow_blur, shadow_x, shadow_y, model],
              [comparison, png, jpeg, timing], api_name="superimpose")
    gr.Examples([[str(ASSETS / "samples" / photo), str(ASSETS / "backgrounds" / backdrop)]
                 for photo, backdrop in SUPERIMPOSE_EXAMPLES],
                [foreground, background], [comparison, png, jpeg, timing], superimpose_photo,
                cache_examples=True, cache_mode="lazy",
                example_labels=[f"{Path(photo).stem.capitalize()} on {Path(backdrop).stem.replace('-', ' ')}"
                                for photo, backdrop in SUPERIMPOSE_EXAMPLES])
    return foreground


MAX_BATCH_PHOTOS = 50  # about 5 minutes of u2net on a 2-vCPU Space


@friendly_errors
def batch_remove_background(photos: list[str] | None, model: str = DEFAULT_MODEL, composite: str = "none",
                            colour: str = "#ffffff", background: str | None = None,
                            progress: gr.Progress = gr.Progress()) -> tuple[str, str]:  # noqa: B008
    """Cut out several photos at once; the cut-outs (and optionally composites) come back in one ZIP.

    Args:
        photos: the photos (up to 50). A file that is not a readable image is skipped and named in errors.txt.
        model: the rembg session, e.g. "u2net" (default) or "u2netp" (fast).
        composite: "none" (cut-outs only), "color" (also each cut-out on a colour) or "image" (also on an image).
        colour: the colour for composite "color", e.g. "#ffffff".
        background: the background image for composite "image".

    Returns:
        The ZIP file of full-resolution PNG cut-outs (and JPEG composites), and a summary naming any photo
        that could not be read.
    """
    started = time.perf_counter()
    if not photos:
        raise gr.Error("Please upload one or more photos first.", print_exception=False)
    if len(photos) > MAX_BATCH_PHOTOS:
        raise gr.Error(f"That is {len(photos)} photos; a batch takes at most {MAX_BATCH_PHOTOS}.",
                       print_exception=False)
    backdrop: Image.Image | tuple[int, int, int] | None = None
    if composite == "color":
        backdrop = parse_colour(colour)
    elif composite == "image":
        backdrop = read_upload(background, "a background image for the composites").image
    report = batch_cutouts(photos, result_folder("batch-") / "cutouts.zip", model=model, background=backdrop,
                           progress=lambda done, message: progress(done, desc=message))
    return str(report.archive), f"{report.summary()}\nDone in {time.perf_counter() - started:.1f} s."


def batch_panel() -> None:
    """Many photos → one ZIP of cut-outs, below the Remove background tab."""
    with gr.Accordion("Batch: many photos → one ZIP", open=False):
        gr.Markdown(f"Cut out up to {MAX_BATCH_PHOTOS} photos at once, optionally also composited onto a colour "
                    "or an image. The same as `python -m pipeline cutout PHOTOS… -o cutouts.zip`.")
        with gr.Row():
            with gr.Column():
                photos = gr.File(file_count="multiple", file_types=["image"], label="Photos",
                                 elem_id="batch-photos")
                model = gr.Dropdown(list(AVAILABLE_MODELS), value=DEFAULT_MODEL, label="Model")
                composite = gr.Radio([("Cut-outs only", "none"), ("Also on a colour", "color"),
                                      ("Also on an image", "image")], value="none", label="Composites")
                with gr.Row():
                    colour = gr.ColorPicker("#ffffff", label="Colour")
                    background = photo_input("Background image", height=160)
                run = gr.Button("Cut out all", variant="primary", elem_id="batch-run")
            with gr.Column():
                archive = gr.File(label="ZIP of the results", elem_id="batch-zip")
                summary = gr.Textbox(label="Summary", interactive=False, elem_id="batch-summary")
    run.click(batch_remove_background, [photos, model, composite, colour, background], [archive, summary],
              api_name="batch_remove_background")


def build_app() -> gr.Blocks:
    # Results and uploads older than an hour are deleted hourly, so a long-running Space keeps its disk.
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(f"# {TITLE}\nCut out a photo's subject, upscale it, and put it on a new background.")
        with gr.Tabs() as tabs:
            with gr.Tab("Remove background", id="remove"):
                cutout_file = remove_background_tab()
                with gr.Row():
                    cutout_to_enhance = gr.Button("Send cut-out to Enhance →", elem_id="remove-send-enhance")
                    cutout_to_superimpose = gr.Button("Send cut-out to Superimpose →",
                                                      elem_id="remove-send-superimpose")
                batch_panel()
            with gr.Tab("Enhance resolution", id="enhance"):
                enhance_input, enhanced_file, enhanced_to_superimpose = enhance_resolution_tab()
            with gr.Tab("Superimpose", id="superimpose"):
                foreground = superimpose_tab()
        # Chaining: the full-resolution PNG (alpha kept) goes to the next tab's input, and that tab opens.
        # Light UI events like these run at once (concurrency_limit=None), not queued behind a heavy request.
        cutout_to_enhance.click(send_result("enhance"), cutout_file, [enhance_input, tabs], api_visibility="private",
                                concurrency_limit=None)
        cutout_to_superimpose.click(send_result("superimpose"), cutout_file, [foreground, tabs],
                                    api_visibility="private", concurrency_limit=None)
        enhanced_to_superimpose.click(send_result("superimpose"), enhanced_file, [foreground, tabs],
                                      api_visibility="private", concurrency_limit=None)
        with gr.Accordion("Models", open=False):
            table = gr.Dataframe(headers=["model", "kind", "available offline", "official source"],
                                 interactive=False)
            refresh = gr.Button("Check models", size="sm")
            refresh.click(model_table, outputs=table, api_name="models")
    return demo


def prefetch_models() -> None:
    """Fetch and verify the default models, so the first visitor after a cold start does not wait."""
    for name in PREFETCHED_MODELS:
        try:
            models.ensure_model(name)
        except PipelineError as error:
            print(f"prefetch: {error.message}", flush=True)


demo = build_app()

if __name__ == "__main__":
    threading.Thread(target=prefetch_models, name="prefetch-models", daemon=True).start()
    # One heavy event at a time: OpenVINO already spreads a single request over both cores of a Space.
    demo.queue(default_concurrency_limit=1, max_size=64).launch(
        max_file_size=MAX_UPLOAD_SIZE,
        mcp_server=importlib.util.find_spec("mcp") is not None,
        theme=gr.themes.Soft(),
    )
