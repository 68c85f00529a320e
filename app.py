"""Backdrop Studio: ``python app.py`` serves the web shell (``web/``) over ``pipeline/``.

Honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT. Prefetches the default models in the background at start-up.
"""

from __future__ import annotations

import importlib.util
import threading

import gradio as gr

from pipeline import models
from pipeline.errors import PipelineError
from web import build_app

MAX_UPLOAD_SIZE = "100mb"  # a 40 MP PNG fits; the pixel limit itself is pipeline.intake's
PREFETCHED_MODELS = ("u2net", "u2netp", "single-image-super-resolution-1032-fp32",
                     "single-image-super-resolution-1033-fp32")


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
