"""The Enhance resolution tab: Intel's super-resolution networks on OpenVINO, ×2/×3/×4, transparency kept."""

from __future__ import annotations

import time
from typing import Any

import gradio as gr
from PIL import Image

from pipeline import superres
from pipeline.background import checkerboard_preview
from pipeline.intake import save_result
from web.common import SAMPLE_PHOTOS, friendly_errors, in_parallel, photo_input, read_upload, result_folder

SLIDER_MAX_SIDE = 1280  # larger results are compared on a 100% centre crop of at most this size
SCALE_CHOICES = [("×2", 2), ("×3", 3), ("×4", 4)]
# The slider's views are JPEG files written here, at a quality that keeps the detail being compared (Gradio's own
# JPEG is quality 75 with subsampled colour); lossless PNG views cost ~1 s at 1280 px, these ~30 ms.
VIEW_QUALITY = 92


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
    folder = result_folder("enhance-")

    def views() -> tuple[tuple[str, str], str]:
        bicubic, enhanced_view, note = comparison_pair(photo.image, enhanced, scale)
        paths = (folder / "view-bicubic.jpg", folder / "view-enhanced.jpg")
        for view, path in zip((bicubic, enhanced_view), paths, strict=True):
            (view if view.mode == "RGB" else checkerboard_preview(view)).save(path, quality=VIEW_QUALITY,
                                                                              subsampling=0)
        return (str(paths[0]), str(paths[1])), note

    # Fast PNG compression: at level 6 a 16 MP result takes ~15 s to write, at level 1 ~3 s (files ~15% larger).
    png, (pair, note) = in_parallel(
        lambda: save_result(enhanced, folder, photo.name, f"x{scale}", png_compress_level=1), views)
    width, height = enhanced.size
    summary = (f"{photo.image.width}×{photo.image.height} → {width}×{height} px ({width * height / 1e6:.1f} MP), "
               f"×{scale} in {time.perf_counter() - started:.1f} s.{note}")
    return pair, str(png), summary


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
            comparison = gr.ImageSlider(label="Bicubic ↔ enhanced", format="jpeg", type="filepath",
                                        elem_id="enhance-comparison")
            gr.Markdown(f"Results larger than {SLIDER_MAX_SIDE} px on a side are compared on a 100% centre crop; "
                        "the PNG below is always the full image.")
            result_file = gr.File(label="Full-resolution PNG", elem_id="enhance-file", interactive=False)
            summary = gr.Textbox(label="Output size and time taken", interactive=False, elem_id="enhance-summary")
            send_to_superimpose = gr.Button("Send to Superimpose →", size="sm", elem_id="enhance-send-superimpose")
    run.click(enhance_resolution, [image, scale], [comparison, result_file, summary], api_name="enhance_resolution")
    gr.Examples([[str(path)] for path, _ in SAMPLE_PHOTOS], [image], [comparison, result_file, summary],
                enhance_resolution, cache_examples=True, cache_mode="lazy",
                example_labels=[f"{label} (×4)" for _, label in SAMPLE_PHOTOS])
    return image, result_file, send_to_superimpose



