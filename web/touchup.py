"""The touch-up panel under the Remove background tab: keep/remove brush strokes on the photo, Apply, Reset."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from pipeline.background import DEFAULT_MODEL, Cutout, network_photo, upright
from pipeline.errors import PipelineError
from pipeline.intake import load_image
from pipeline.matting import DECONTAMINATE_MODES, decontaminated_cutout
from pipeline.touchup import strokes_by_colour, touch_up
from web.common import cutout_outputs, friendly_errors, photo_input, read_upload, result_folder

KEEP_COLOUR, REMOVE_COLOUR = "#22c55e", "#ef4444"  # pipeline.touchup tells the brushes apart by green vs red
# How the editor shows the cut-out on the photo: what the mask removes is dimmed and tinted blue (neither green nor
# red, so it is never mistaken for a stroke), what it keeps is the photo itself.
REMOVED_TINT = np.array((30, 64, 175), np.float32)
REMOVED_DIM, REMOVED_TINT_SHARE = 0.35, 0.35
STROKE_PROPORTION_TOLERANCE = 0.02  # a stroke mask may be a rounded, scaled-down copy of the photo's frame
NO_STROKES = "Paint a stroke first: green on what to keep, red on what to remove."


@dataclasses.dataclass(frozen=True)
class TouchUpSession:
    """What a browser session keeps after a cut-out, so that touch-ups do not run the network again."""

    photo: str  # the uploaded file
    model: str
    prior: np.ndarray  # the network's mask (uint8, full size), which the strokes correct
    # The cut-out's mask if its edges were refined: with refinement on, a touch-up keeps it where strokes change
    # nothing (and saves refining the prior again).
    refined: np.ndarray | None
    canvas: Image.Image  # the photo as painted on in the editor, at most PREVIEW_SIDE px
    original: tuple[Any, str, str, str]  # the cut-out's outputs, shown again by Reset
    overlay: Image.Image  # the canvas with the cut-out's mask shown on it: the editor's background after Reset


def mask_overlay(canvas: Image.Image, mask: Image.Image) -> Image.Image:
    """The photo as the editor shows it: what ``mask`` keeps as it is, what it removes dimmed and tinted."""
    rgb = np.asarray(canvas.convert("RGB"), np.float32)
    alpha = np.asarray(mask.resize(canvas.size, Image.Resampling.BILINEAR), np.float32)[..., None] / 255
    removed = rgb * REMOVED_DIM + REMOVED_TINT * REMOVED_TINT_SHARE
    return Image.fromarray(np.rint(rgb * alpha + removed * (1 - alpha)).astype(np.uint8))


def open_touch_up(photo: str, model: str, cutout: Cutout, outputs: tuple[Any, str, str, str], refined: bool
                  ) -> tuple[TouchUpSession, Image.Image]:
    """The session of a new cut-out (``refined``: its edges were refined) and the editor's first view: the
    cut-out's mask on the photo."""
    canvas = outputs[0][0]  # the slider's "before": the photo at preview size
    overlay = mask_overlay(canvas, cutout.mask)
    session = TouchUpSession(photo=photo, model=model, prior=cutout.network_mask,
                             refined=np.asarray(cutout.mask) if refined else None, canvas=canvas,
                             original=outputs, overlay=overlay)
    return session, overlay


def with_edge_colours(image: Image.Image, cutout: Cutout, decontaminate: str) -> Cutout:
    """``cutout`` of ``image`` with the colours the Remove tab gives soft edges (its "Edge colours" choice).

    As ``pipeline.background.remove_background`` does: a photo with transparency of its own keeps its colours, and
    "off" keeps the photo's (what ``touch_up`` returns); else ``pipeline.matting`` estimates them.
    """
    if decontaminate not in DECONTAMINATE_MODES:
        raise gr.Error(f"Edge colours must be one of {', '.join(DECONTAMINATE_MODES)}, not “{decontaminate}”.",
                       print_exception=False)
    turned = upright(image)
    if decontaminate == "off" or turned.has_transparency_data:
        return cutout
    return dataclasses.replace(cutout, image=decontaminated_cutout(network_photo(turned), cutout.mask,
                                                                   decontaminate))


def editor_value(overlay: Image.Image, layers: list[np.ndarray]) -> dict[str, Any]:
    """The editor showing ``overlay`` under the stroke ``layers`` as they were painted, for more strokes.

    A new background makes the editor drop its layers (Gradio 6 re-creates them on a new image), so the strokes
    come back as layers of the value. They are written as PNG files here: the editor's own encoding of an array is
    lossy WebP, which would blur the brushes' green and red on every Apply.
    """
    folder = result_folder("strokes-")
    paths = []
    for index, layer in enumerate(layers):
        path = folder / f"strokes-{index}.png"
        Image.fromarray(layer).save(path, compress_level=1)
        paths.append(str(path))
    return {"background": overlay, "layers": paths, "composite": None}


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
        as a PNG with its alpha (soft edges carry the subject's estimated colour, as the Remove tab's default
        gives), the mask as a PNG, and the time taken.
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
    cutout = with_edge_colours(loaded.image, cutout, "fast")
    progress(0.9, desc="Writing the PNG")
    return cutout_outputs(loaded, cutout, model=model, started=started, action="Touched up")


@friendly_errors
def apply_touch_up(session: TouchUpSession | None, strokes: dict[str, Any] | None, refine_edges: bool,
                   decontaminate: str = "fast", file_format: str = "png",
                   progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
    """Re-segment the photo of ``session`` from the editor's strokes (all of them, on the network's mask).

    Returns the editor (the new cut-out on the photo, the strokes kept for more) and the tab's outputs, with the
    tab's edge colours and download format.
    """
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
    cutout = touch_up(photo.image, keep, remove, prior=session.prior, refine_edges=refine_edges,
                      refined_prior=session.refined)
    cutout = with_edge_colours(photo.image, cutout, decontaminate)
    file_format = "webp" if file_format == "webp" else "png"
    progress(0.9, desc=f"Writing the {'WebP' if file_format == 'webp' else 'PNG'}")
    outputs = cutout_outputs(photo, cutout, model=session.model, started=started, action="Touched up",
                             file_format=file_format)
    return editor_value(mask_overlay(session.canvas, cutout.mask), strokes["layers"]), *outputs


def reset_touch_up(session: TouchUpSession | None) -> tuple[Any, ...]:
    """Back to the model's cut-out: the editor without strokes and the cut-out's own outputs."""
    if session is None:
        raise gr.Error("Nothing to reset: remove the background first.", print_exception=False)
    return session.overlay, *session.original



@dataclasses.dataclass(frozen=True)
class TouchUpPanel:
    """The panel's components: the Remove background tab opens it after a cut-out."""

    column: gr.Column
    editor: gr.ImageEditor
    apply: gr.Button
    reset: gr.Button
    session: gr.State  # the TouchUpSession of the last cut-out


def touch_up_panel() -> TouchUpPanel:
    """Lay out the (hidden) touch-up panel where it is called; :func:`connect_touch_up` wires it."""
    with gr.Column(visible=False) as column:
        gr.Markdown("**Touch up.** The photo below shows the cut-out: what it removes is dimmed blue. Wrong? "
                    "Paint with the **green** brush over what must stay and the **red** brush over what "
                    "must go (a short stroke is enough), then press Apply: the photo shows the new cut-out, and "
                    "the strokes stay for more. Strokes add up; Reset returns to the model's cut-out. Of the "
                    "options, edge refinement, edge colours and the download format apply to the touched-up "
                    "file.")
        editor = gr.ImageEditor(
            label="Keep (green) / remove (red) strokes", elem_id="touchup-editor", type="numpy",
            image_mode="RGBA", sources=(), transforms=(), interactive=True,
            brush=gr.Brush(colors=[KEEP_COLOUR, REMOVE_COLOUR], color_mode="fixed"),
            layers=gr.LayerOptions(layers=["Strokes"]))
        with gr.Row():
            apply = gr.Button("Apply", variant="primary", elem_id="touchup-apply")
            reset = gr.Button("Reset", elem_id="touchup-reset")
    return TouchUpPanel(column, editor, apply, reset, gr.State())


def connect_touch_up(panel: TouchUpPanel, photo: gr.Image, model: gr.Dropdown, precision: gr.Dropdown,
                     refine_edges: gr.Checkbox, decontaminate: gr.Radio, file_format: gr.Radio,
                     results: list[Any]) -> None:
    """Wire the panel's buttons, close it on a new photo, and add the /touch_up endpoint (photo + stroke masks)."""
    # The progress shows on the results only: on the editor, Gradio 6's status tracker stays over the canvas after
    # the new value has arrived (seen in Chromium), hiding the overlay and the strokes.
    panel.apply.click(apply_touch_up, [panel.session, panel.editor, refine_edges, decontaminate, file_format],
                      [panel.editor, *results], show_progress_on=results, api_visibility="private")
    panel.reset.click(reset_touch_up, panel.session, [panel.editor, *results], api_visibility="private",
                      concurrency_limit=None)
    # A new photo: the touch-up panel belonged to the old one's cut-out, so it closes until the next Run.
    photo.change(lambda: (None, gr.Column(visible=False)), None, [panel.session, panel.column],
                 api_visibility="private", concurrency_limit=None)
    # The stroke masks of the touch_up endpoint (scripts send them; the page paints in the editor instead).
    keep_strokes = photo_input("Keep strokes (mask image)", visible=False)
    remove_strokes = photo_input("Remove strokes (mask image)", visible=False)
    gr.on([], touch_up_photo, [photo, keep_strokes, remove_strokes, model, precision, refine_edges], results,
          api_name="touch_up")
