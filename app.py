"""Backdrop Studio: the Gradio shell over ``pipeline/``.

This file lays out the UI and turns pipeline errors into friendly messages; the work is in ``pipeline/``.
Run with ``python app.py`` (honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT).
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Callable
from typing import Any

import gradio as gr

from pipeline import models
from pipeline.errors import PipelineError
from pipeline.intake import LoadedImage, load_image

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


def remove_background_tab() -> None:
    gr.Markdown("Background removal arrives in its own change.")


def enhance_resolution_tab() -> None:
    gr.Markdown("Super-resolution arrives in its own change.")


def superimpose_tab() -> None:
    gr.Markdown("Compositing arrives in its own change.")


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
