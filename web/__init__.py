"""Backdrop Studio's web shell: one module per tab over ``pipeline/``; :func:`build_app` lays them out.

The modules lay out the UI and turn pipeline errors into friendly messages; the work is in ``pipeline/``.
"""

from __future__ import annotations

import gradio as gr

from pipeline import background, models
from web.batch import batch_panel
from web.common import send_result
from web.enhance import enhance_resolution_tab
from web.remove import remove_background_tab
from web.superimpose import superimpose_tab

TITLE = "Backdrop Studio"


def model_table() -> list[list[str]]:
    """Every model the app knows, and whether it can be used here without the internet.

    Returns:
        Rows of [model, kind, available offline, official source].
    """
    rows = []
    for spec in models.MODELS.values():
        source = models.offline_source(spec.name)
        available = source or "no (needs the internet)"
        if background.onnxruntime_reason(spec.name):  # OpenVINO could not run its network in this process
            available += f"; {background.RUNS_ON_ONNXRUNTIME}"
        rows.append([spec.name, spec.kind, available, spec.files[0].url])
    return rows



def build_app() -> gr.Blocks:
    # Results and uploads older than an hour are deleted hourly, so a long-running Space keeps its disk.
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(f"# {TITLE}\nCut out a photo's subject, upscale it, and put it on a new background.")
        with gr.Tabs() as tabs:
            with gr.Tab("Remove background", id="remove"):
                cutout_file = remove_background_tab()
                with gr.Row():
                    cutout_to_enhance = gr.Button("Send cut-out to Enhance →", elem_id="remove-send-enhance")
                    cutout_to_superimpose = gr.Button("Send cut-out to Superimpose →",
                                                      elem_id="remove-send-superimpose")
                batch_panel()
            with gr.Tab("Enhance resolution", id="enhance"):
                enhance_input, enhanced_file, enhanced_to_superimpose = enhance_resolution_tab()
            with gr.Tab("Superimpose", id="superimpose"):
                foreground = superimpose_tab()
        # Chaining: the full-resolution PNG (alpha kept) goes to the next tab's input, and that tab opens.
        # Light UI events like these run at once (concurrency_limit=None), not queued behind a heavy request.
        cutout_to_enhance.click(send_result("enhance"), cutout_file, [enhance_input, tabs], api_visibility="private",
                                concurrency_limit=None)
        cutout_to_superimpose.click(send_result("superimpose"), cutout_file, [foreground, tabs],
                                    api_visibility="private", concurrency_limit=None)
        enhanced_to_superimpose.click(send_result("superimpose"), enhanced_file, [foreground, tabs],
                                      api_visibility="private", concurrency_limit=None)
        with gr.Accordion("Models", open=False):
            table = gr.Dataframe(headers=["model", "kind", "available offline", "official source"],
                                 interactive=False)
            refresh = gr.Button("Check models", size="sm")
            refresh.click(model_table, outputs=table, api_name="models")
    return demo



