"""Backdrop Studio: the Gradio shell over ``pipeline/``.

This file lays out the UI and turns pipeline errors into friendly messages; the work is in ``pipeline/``.
Run with ``python app.py`` (honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT).
"""

from __future__ import annotations

import gradio as gr

from pipeline import models

TITLE = "Backdrop Studio"


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
    with gr.Blocks(title=TITLE) as demo:
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


demo = build_app()

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=1).launch()
