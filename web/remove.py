"""The Remove background tab: rembg's sessions on OpenVINO, rembg's options, the touch-up panel below."""

from __future__ import annotations

import time
from typing import Any

import gradio as gr

from pipeline import models
from pipeline.background import DEFAULT_MODEL, Cutout, list_models, remove_background
from pipeline.matting import VITMATTE_MODEL
from web.common import (
    DOWNLOAD_FORMATS,
    PRECISION_CHOICES,
    PREVIEW_FORMAT,
    SAMPLE_PHOTOS,
    cutout_outputs,
    friendly_errors,
    parse_colour,
    photo_input,
    read_upload,
)
from web.touchup import connect_touch_up, open_touch_up, touch_up_panel

DECONTAMINATE_CHOICES = [("Subject's colour (fast)", "fast"),
                         ("rembg's decontaminate (slow on large photos)", "rembg"),
                         ("Off: the photo's own colours", "off")]


def vitmatte_label() -> str:
    """The ViTMatte checkbox's label, saying when its model cannot be had offline."""
    needs = "" if models.offline_source(VITMATTE_MODEL) else "; needs the internet to fetch its model"
    return f"ViTMatte edge refinement (rembg's; uses the thresholds and erode size above{needs})"


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
    background_colour: str = "#ffffff", background_opacity: float = 255, file_format: str = "png",
    decontaminate: str = "fast", vitmatte: bool = False,
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
        file_format: the cut-out file's format: "png" or "webp" (lossless, usually smaller). Neither keeps the
            colour under fully transparent pixels (the PNG has them (0, 0, 0, 0), as rembg's cut-outs do).
        decontaminate: the colour under soft edges: "fast" (default: the subject's own colour, estimated where
            the edge is soft), "rembg" (rembg's decontaminate, pymatting over the whole photo: slow on large
            photos) or "off" (the photo's colours, which carry the old background).
        vitmatte: rembg's ViTMatte refinement of the mask (its model downloads once; needs the internet then).

    Returns:
        The original and the cut-out (over a checkerboard, JPEG) for comparison, the full-resolution cut-out as a
        PNG (or WebP) with its alpha, the mask as a PNG, and the time taken.
    """
    return cut_out(photo, model, precision, refine_edges, alpha_matting, alpha_matting_foreground_threshold,
                   alpha_matting_background_threshold, alpha_matting_erode_size, post_process_mask, only_mask,
                   fill_background, background_colour, background_opacity, file_format, decontaminate, vitmatte,
                   progress=progress)[0]


@friendly_errors
def cut_out_for_touch_up(*options: Any, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
    """The page's Run button: the cut-out (as ``remove_photo_background``, same inputs), then the touch-up panel
    opened on the photo, with the network's mask kept for touch-ups."""
    outputs, cutout = cut_out(*options, progress=progress)
    session, overlay = open_touch_up(options[0], options[1], cutout, outputs, refined=bool(options[3]))
    return (*outputs, session, overlay, gr.Column(visible=True))


def cut_out(photo: str | None, model: str, precision: str, refine_edges: bool, alpha_matting: bool,
            alpha_matting_foreground_threshold: float, alpha_matting_background_threshold: float,
            alpha_matting_erode_size: float, post_process_mask: bool, only_mask: bool, fill_background: bool,
            background_colour: str, background_opacity: float, file_format: str, decontaminate: str,
            vitmatte: bool, progress: gr.Progress) -> tuple[tuple[Any, str, str, str], Cutout]:
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
        only_mask=only_mask, bgcolor=bgcolor, decontaminate=decontaminate, vitmatte=vitmatte)
    progress(0.9, desc=f"Writing the {'WebP' if file_format == 'webp' else 'PNG'}")
    return cutout_outputs(loaded, cutout, model=model, started=started, only_mask=only_mask,
                          file_format="webp" if file_format == "webp" else "png"), cutout



def remove_background_tab() -> gr.File:
    """The Remove background tab; returns the file component holding the cut-out PNG, for other tabs to take."""
    gr.Markdown("Cut the subject out of a photo with rembg's U²-Net models, run on OpenVINO. "
                "The download (PNG, or lossless WebP) keeps the full resolution and the transparency.")
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
                decontaminate = gr.Radio(DECONTAMINATE_CHOICES, value="fast", label="Edge colours",
                                         elem_id="remove-decontaminate",
                                         info="Under soft edges (hair, blur) the photo mixes in its old background.")
                vitmatte = gr.Checkbox(False, label=vitmatte_label(), elem_id="remove-vitmatte")
                post_process = gr.Checkbox(False, label="Post-process the mask (smooth, hard edge)")
                only_mask = gr.Checkbox(False, label="Mask only")
                fill_background = gr.Checkbox(False, label="Fill the background with a colour")
                with gr.Row():
                    background_colour = gr.ColorPicker("#ffffff", label="Background colour")
                    background_opacity = gr.Slider(0, 255, value=255, step=1, label="Background opacity")
            run = gr.Button("Remove background", variant="primary", elem_id="remove-run")
            panel = touch_up_panel()
        with gr.Column():
            comparison = gr.ImageSlider(label="Original ↔ cut-out", type="pil", format=PREVIEW_FORMAT,
                                        elem_id="remove-comparison")
            file_format = gr.Radio(DOWNLOAD_FORMATS, value="png", label="Download format", elem_id="remove-format")
            cutout_file = gr.File(label="Cut-out (full resolution, transparency kept)", elem_id="remove-file",
                                  interactive=False)  # a download: as an event input it would offer an upload
            # image_mode=None: read back for Reset as the file it is, not re-encoded.
            mask = gr.Image(label="Mask", type="filepath", format="png", image_mode=None, interactive=False)
            timing = gr.Markdown(label="Time taken", elem_id="remove-timing")
    results = [comparison, cutout_file, mask, timing]
    options = [photo, model, precision, refine_edges, alpha_matting, foreground_threshold, background_threshold,
               erode_size, post_process, only_mask, fill_background, background_colour, background_opacity,
               file_format, decontaminate, vitmatte]
    run.click(cut_out_for_touch_up, options, [*results, panel.session, panel.editor, panel.column],
              api_visibility="private")
    gr.Examples([[str(path)] for path, _ in SAMPLE_PHOTOS], [photo], results, remove_photo_background,
                cache_examples=True, cache_mode="lazy", example_labels=[label for _, label in SAMPLE_PHOTOS])
    connect_touch_up(panel, photo, model, precision, refine_edges, decontaminate, file_format, results)
    # API only (no trigger on the page): the cut-out without the page's touch-up state.
    gr.on([], remove_photo_background, options, results, api_name="remove_background")
    return cutout_file



