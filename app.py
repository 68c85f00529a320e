"""Backdrop Studio: ``python app.py`` serves the web shell (``web/``) over ``pipeline/``.

Also serves rembg's HTTP API (``rembg s``'s ``/api/remove``, ``web/rembg_api.py``). Honours GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT. Prefetches the default models in the background at start-up.
"""

from __future__ import annotations

import importlib.util
import threading

import gradio as gr

from pipeline import models, quantize
from pipeline.errors import PipelineError
from pipeline.intake import MAX_UPLOAD_BYTES
from pipeline.options import INT8_KEEPS_QUALITY
from web import build_app, rembg_api

PREFETCHED_MODELS = ("u2net", "u2netp", "single-image-super-resolution-1032-fp32",
                     "single-image-super-resolution-1033-fp32")


def prefetch_models() -> None:
    """Fetch and verify the default models, so the first visitor after a cold start does not wait; then build the
    INT8 networks "auto" uses once they are ready (requests run at the current precision until then)."""
    for name in PREFETCHED_MODELS:
        try:
            models.ensure_model(name)
        except PipelineError as error:
            print(f"prefetch: {error.message}", flush=True)
    for name in sorted(INT8_KEEPS_QUALITY):
        quantize.build_in_background(name)


demo = build_app()

if __name__ == "__main__":
    threading.Thread(target=prefetch_models, name="prefetch-models", daemon=True).start()
    # One heavy event at a time: OpenVINO already spreads a single request over both cores of a Space.
    demo.queue(default_concurrency_limit=1, max_size=64).launch(
        max_file_size=MAX_UPLOAD_BYTES,
        mcp_server=importlib.util.find_spec("mcp") is not None,
        theme=gr.themes.Soft(),
        # rembg's HTTP API (/api/remove, docs at /api) beside the UI: FastAPI routes ahead of Gradio's own.
        app_kwargs={"routes": rembg_api.routes()},
    )
