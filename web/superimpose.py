"""The Superimpose tab: a cut-out (or a photo, cut out first) on an image, a colour or the blurred original."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from pipeline.background import AVAILABLE_MODELS, DEFAULT_MODEL
from pipeline.compose import DEFAULT_BLUR_STRENGTH, ShadowOptions, compose
from pipeline.intake import save_result
from web.common import (
    ASSETS,
    DOWNLOAD_FORMATS,
    PREVIEW_FORMAT,
    before_after,
    friendly_errors,
    in_parallel,
    parse_colour,
    photo_input,
    read_upload,
    result_folder,
)

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



@friendly_errors
def superimpose_photo(foreground: str | None, background: str | None = None, background_kind: str = "image",
                      colour: str = "#ffffff", blur_strength: float = DEFAULT_BLUR_STRENGTH, fit: str = "cover",
                      output_size: str = "background", size_percent: float = 0, anchor: str = "original",
                      offset_x: float = 0, offset_y: float = 0, feather: float = 0, shadow: bool = False,
                      shadow_opacity: float = 0.5, shadow_blur: float = 12, shadow_x: float = 12,
                      shadow_y: float = 16, model: str = DEFAULT_MODEL, file_format: str = "png",
                      decontaminate: bool = True, progress: gr.Progress = gr.Progress()) -> tuple[Any, str, str, str]:  # noqa: B008
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
        file_format: the lossless file's format: "png" or "webp" (lossless, smaller).
        decontaminate: when a photo is cut out, estimate the subject's own colour under its soft edges, so the
            old background does not fringe the new one (on by default).

    Returns:
        Before/after preview (JPEG), the composite at full resolution losslessly (PNG or WebP) and as a JPEG, and
        the time taken.
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
        remove_decontaminate="fast" if decontaminate else "off",
        shadow=ShadowOptions(offset=(round(shadow_x or 0), round(shadow_y or 0)), blur=shadow_blur,
                             opacity=shadow_opacity) if shadow else None)
    folder = result_folder("superimpose-")
    lossless = "webp" if file_format == "webp" else "png"
    file, jpeg, preview = in_parallel(
        lambda: save_result(composite.image, folder, photo.name, "composite", lossless, png_compress_level=1),
        lambda: save_result(composite.image, folder, photo.name, "composite", "jpeg"),
        lambda: before_after(composite.before(), composite.image))
    width, height = composite.image.size
    summary = f"Done in {time.perf_counter() - started:.2f} s ({width}×{height} px)."
    return preview, str(file), str(jpeg), summary


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
            decontaminate = gr.Checkbox(True, label="Clean edge colours (the subject's own colour under soft "
                                                    "edges, for photos)", elem_id="superimpose-decontaminate")
            run = gr.Button("Superimpose", variant="primary", elem_id="superimpose-run")
        with gr.Column():
            comparison = gr.ImageSlider(label="Before / after", type="pil", format=PREVIEW_FORMAT,
                                        elem_id="superimpose-comparison")
            file_format = gr.Radio(DOWNLOAD_FORMATS, value="png", label="Lossless download format",
                                   elem_id="superimpose-format")
            with gr.Row():
                png = gr.File(label="PNG or WebP (full resolution)", elem_id="superimpose-png")
                jpeg = gr.File(label="JPEG (full resolution)", elem_id="superimpose-jpeg")
            timing = gr.Markdown(label="Time taken", elem_id="superimpose-timing")

    background_kind.change(show_background_controls, background_kind, [image_controls, colour, blur_strength],
                           api_visibility="private", concurrency_limit=None)
    samples.select(pick_sample_background, None, [background, background_kind], api_visibility="private",
                   concurrency_limit=None)
    run.click(superimpose_photo,
              [foreground, background, background_kind, colour, blur_strength, fit, output_size, size_percent,
               anchor, offset_x, offset_y, feather, shadow, shadow_opacity, shadow_blur, shadow_x, shadow_y, model,
               file_format, decontaminate],
              [comparison, png, jpeg, timing], api_name="superimpose")
    gr.Examples([[str(ASSETS / "samples" / photo), str(ASSETS / "backgrounds" / backdrop)]
                 for photo, backdrop in SUPERIMPOSE_EXAMPLES],
                [foreground, background], [comparison, png, jpeg, timing], superimpose_photo,
                cache_examples=True, cache_mode="lazy",
                example_labels=[f"{Path(photo).stem.capitalize()} on {Path(backdrop).stem.replace('-', ' ')}"
                                for photo, backdrop in SUPERIMPOSE_EXAMPLES])
    return foreground



