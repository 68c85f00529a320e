"""Backdrop Studio: the Gradio shell over ``pipeline/``.

This file lays out the UI and turns pipeline errors into friendly messages; the work is in ``pipeline/``.
Run with ``python app.py`` (honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT).
"""

from __future__ import annotations

import functools
import importlib.util
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image, ImageColor, ImageOps

from pipeline import models, superres
from pipeline.background import AVAILABLE_MODELS, DEFAULT_MODEL, checkerboard_preview, list_models, remove_background
from pipeline.compose import DEFAULT_BLUR_STRENGTH, ShadowOptions, compose
from pipeline.errors import PipelineError
from pipeline.intake import LoadedImage, load_image, save_result

TITLE = "Backdrop Studio"
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
REMOVAL_PREVIEW_SIDE = 1600  # the before/after view is downsized to this; the PNG keeps full resolution


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
    # Written inside Gradio's cache, so it is served without another copy and deleted with the cache;
    # compression level 1 writes a 12 MP PNG several times faster than the default.
    folder = Path(gr.utils.get_upload_folder())
    folder.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="cutout-", dir=folder))
    png = save_result(cutout.image, folder, loaded.name, "mask" if only_mask else "cutout", png_compress_level=1)
    mask_png = png if only_mask else save_result(cutout.mask, folder, loaded.name, "mask", png_compress_level=1)
    preview = (checkerboard_preview(loaded.image, REMOVAL_PREVIEW_SIDE),
               checkerboard_preview(cutout.image, REMOVAL_PREVIEW_SIDE))
    width, height = cutout.image.size
    summary = f"Done in {time.perf_counter() - started:.2f} s ({width}×{height} px, {model})."
    return preview, str(png), str(mask_png), summary


def remove_background_tab() -> gr.File:
    """The Remove background tab; returns the file component holding the cut-out PNG, for other tabs to take."""
    gr.Markdown("Cut the subject out of a photo with rembg's U²-Net models, run on OpenVINO. "
                "The PNG keeps the full resolution and the transparency.")
    with gr.Row():
        with gr.Column():
            photo = photo_input("Photo")
            model = gr.Dropdown(removal_model_choices(), value=DEFAULT_MODEL, label="Model",
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
            run = gr.Button("Remove background", variant="primary")
        with gr.Column():
            comparison = gr.ImageSlider(label="Original ↔ cut-out", type="pil", format="png")
            cutout_file = gr.File(label="Cut-out (full-resolution PNG with transparency)")
            mask = gr.Image(label="Mask", type="filepath", format="png", interactive=False)
            timing = gr.Markdown()
    run.click(remove_photo_background,
              [photo, model, precision, refine_edges, alpha_matting, foreground_threshold, background_threshold,
               erode_size, post_process, only_mask, fill_background, background_colour, background_opacity],
              [comparison, cutout_file, mask, timing], api_name="remove_background")
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
    # Written inside Gradio's cache, so it is served without another copy and deleted with the cache.
    folder = Path(gr.utils.get_upload_folder())
    folder.mkdir(parents=True, exist_ok=True)
    # Fast PNG compression: at level 6 a 16 MP result takes ~15 s to write, at level 1 ~3 s (files ~15% larger).
    png = save_result(enhanced, tempfile.mkdtemp(prefix="enhance-", dir=folder), photo.name, f"x{scale}",
                      png_compress_level=1)
    bicubic, enhanced_view, note = comparison_pair(photo.image, enhanced, scale)
    width, height = enhanced.size
    summary = (f"{photo.image.width}×{photo.image.height} → {width}×{height} px ({width * height / 1e6:.1f} MP), "
               f"×{scale} in {time.perf_counter() - started:.1f} s.{note}")
    return (bicubic, enhanced_view), str(png), summary


def enhance_resolution_tab() -> tuple[gr.Image, gr.File]:
    """The Enhance resolution tab; returns its image input and its result file, so other tabs can chain to it."""
    gr.Markdown("Upscale a photo or a cut-out ×2, ×3 or ×4 with Intel's super-resolution networks (OpenVINO). "
                f"Transparency is kept. Results are limited to {superres.MAX_OUTPUT_PIXELS / 1e6:.0f} MP.")
    with gr.Row():
        with gr.Column():
            image = photo_input("Photo or cut-out", format="png")
            scale = gr.Radio(SCALE_CHOICES, value=4, label="Scale")
            run = gr.Button("Enhance", variant="primary")
        with gr.Column():
            comparison = gr.ImageSlider(label="Bicubic ↔ enhanced", format="png", type="pil")
            gr.Markdown(f"Results larger than {SLIDER_MAX_SIDE} px on a side are compared on a 100% centre crop; "
                        "the PNG below is always the full image.")
            result_file = gr.File(label="Full-resolution PNG")
            summary = gr.Textbox(label="Output size and time taken", interactive=False)
    run.click(enhance_resolution, [image, scale], [comparison, result_file, summary], api_name="enhance_resolution")
    return image, result_file


SAMPLE_BACKGROUNDS = sorted((Path(__file__).resolve().parent / "assets" / "backgrounds").glob("*.jpg"))
BACKGROUND_KINDS = [("Image (upload or pick a sample)", "image"), ("Colour", "color"),
                    ("Blur the original photo", "blur")]
ANCHOR_CHOICES = [("As in the photo", "original"), ("Centre", "center"), ("Bottom centre", "bottom-center"),
                  ("Bottom left", "bottom-left"), ("Bottom right", "bottom-right"), ("Top centre", "top-center"),
                  ("Top left", "top-left"), ("Top right", "top-right"), ("Centre left", "center-left"),
                  ("Centre right", "center-right")]
PREVIEW_SIDE = 1600  # the before/after view is downsized to this; the files keep full resolution


def superimpose_preview(image: Image.Image) -> Image.Image:
    return ImageOps.contain(image, (PREVIEW_SIDE, PREVIEW_SIDE)) if max(image.size) > PREVIEW_SIDE else image


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
    # Written inside Gradio's cache like the other tabs' results, so they are deleted with the cache.
    cache = Path(gr.utils.get_upload_folder())
    cache.mkdir(parents=True, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="superimpose-", dir=cache)
    png = save_result(composite.image, folder, photo.name, "composite", "png", png_compress_level=1)
    jpeg = save_result(composite.image, folder, photo.name, "composite", "jpeg")
    width, height = composite.image.size
    preview = (superimpose_preview(composite.before()), superimpose_preview(composite.image))
    return preview, str(png), str(jpeg), f"Done in {time.perf_counter() - started:.2f} s ({width}×{height} px)."


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
            foreground = photo_input("Foreground: photo or cut-out", format="png")
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
            run = gr.Button("Superimpose", variant="primary")
        with gr.Column():
            comparison = gr.ImageSlider(label="Before / after", type="pil")
            with gr.Row():
                png = gr.File(label="PNG (full resolution)")
                jpeg = gr.File(label="JPEG (full resolution)")
            timing = gr.Markdown(label="Time taken")

    background_kind.change(show_background_controls, background_kind, [image_controls, colour, blur_strength],
                           api_visibility="private")
    samples.select(pick_sample_background, None, [background, background_kind], api_visibility="private")
    run.click(superimpose_photo,
              [foreground, background, background_kind, colour, blur_strength, fit, output_size, size_percent,
               anchor, offset_x, offset_y, feather, shadow, shadow_opacity, shadow_blur, shadow_x, shadow_y, model],
              [comparison, png, jpeg, timing], api_name="superimpose")
    return foreground


def build_app() -> gr.Blocks:
    # Results and uploads older than an hour are deleted hourly, so a long-running Space keeps its disk.
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(f"# {TITLE}\nCut out a photo's subject, upscale it, and put it on a new background.")
        with gr.Tabs():
            with gr.Tab("Remove background", id="remove"):
                remove_background_tab()
            with gr.Tab("Enhance resolution", id="enhance"):
                enhance_resolution_tab()
            with gr.Tab("Superimpose", id="superimpose"):
                superimpose_tab()
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
