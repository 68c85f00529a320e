"""The batch panel under the Remove background tab: many photos into one ZIP of cut-outs (and composites)."""

from __future__ import annotations

import time

import gradio as gr
from PIL import Image

from pipeline.background import AVAILABLE_MODELS, DEFAULT_MODEL
from pipeline.batch import batch_cutouts
from web.common import friendly_errors, parse_colour, photo_input, read_upload, result_folder

MAX_BATCH_PHOTOS = 50  # about 5 minutes of u2net on a 2-vCPU Space


@friendly_errors
def batch_remove_background(photos: list[str] | None, model: str = DEFAULT_MODEL, composite: str = "none",
                            colour: str = "#ffffff", background: str | None = None, decontaminate: bool = True,
                            progress: gr.Progress = gr.Progress()) -> tuple[str, str]:  # noqa: B008
    """Cut out several photos at once; the cut-outs (and optionally composites) come back in one ZIP.

    Args:
        photos: the photos (up to 50). A file that is not a readable image is skipped and named in errors.txt.
        model: the rembg session, e.g. "u2net" (default) or "u2netp" (fast).
        composite: "none" (cut-outs only), "color" (also each cut-out on a colour) or "image" (also on an image).
        colour: the colour for composite "color", e.g. "#ffffff".
        background: the background image for composite "image".
        decontaminate: estimate the subject's own colour under soft edges (on by default; off keeps the photo's).

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
                           progress=lambda done, message: progress(done, desc=message),
                           decontaminate="fast" if decontaminate else "off")
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
                decontaminate = gr.Checkbox(True, label="Clean edge colours (the subject's own colour under soft "
                                                        "edges)", elem_id="batch-decontaminate")
                composite = gr.Radio([("Cut-outs only", "none"), ("Also on a colour", "color"),
                                      ("Also on an image", "image")], value="none", label="Composites")
                with gr.Row():
                    colour = gr.ColorPicker("#ffffff", label="Colour")
                    background = photo_input("Background image", height=160)
                run = gr.Button("Cut out all", variant="primary", elem_id="batch-run")
            with gr.Column():
                archive = gr.File(label="ZIP of the results", elem_id="batch-zip")
                summary = gr.Textbox(label="Summary", interactive=False, elem_id="batch-summary")
    run.click(batch_remove_background, [photos, model, composite, colour, background, decontaminate],
              [archive, summary],
              api_name="batch_remove_background")



