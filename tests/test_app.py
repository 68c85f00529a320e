"""`python app.py` serves the page on the configured port and answers the API."""

from __future__ import annotations

import urllib.request

from gradio_client import Client

from pipeline import models


def test_app_serves_page_and_api(app_url: str) -> None:
    with urllib.request.urlopen(app_url, timeout=10) as response:
        page = response.read().decode()
    assert "Backdrop Studio" in page or "gradio" in page.lower()

    rows = Client(app_url, verbose=False).predict(api_name="/models")
    names = [row[0] for row in rows["data"]] if isinstance(rows, dict) else [row[0] for row in rows]
    assert names == list(models.MODELS)
    availability = dict(zip(names, (row[2] for row in (rows["data"] if isinstance(rows, dict) else rows)), strict=True))
    assert availability["single-image-super-resolution-1032-fp32"] != "no (needs the internet)"
    assert availability["u2net_human_seg"] == "no (needs the internet)"
