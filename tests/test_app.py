"""`python app.py` serves the page on the configured port and answers the API."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path

from gradio_client import Client
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client

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


def fetch_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_no_file_outside_the_app_is_served(app_url: str) -> None:
    root = Path(__file__).resolve().parent.parent
    secrets = [root / "app.py", root / "pipeline" / "models.py", Path("/etc/passwd"),
               root.parent / "shared" / "models" / "README.md", models.models_dir() / "rembg" / "u2netp.onnx"]
    for path in secrets:
        for route in ("gradio_api/file=", "file="):
            assert fetch_status(f"{app_url}{route}{path}") in (403, 404), (route, path)
    for traversal in ("gradio_api/file=../../../../etc/passwd", "gradio_api/file=%2e%2e/%2e%2e/etc/passwd",
                      "static/../app.py", "assets/../app.py"):
        assert fetch_status(app_url + traversal) in (400, 403, 404), traversal


def test_mcp_server_lists_the_tools_with_descriptions(app_url: str) -> None:
    async def list_tools() -> list[types.Tool]:
        async with streamable_http_client(app_url + "gradio_api/mcp/") as (read, write, _), \
                ClientSession(read, write) as session:
            await session.initialize()
            return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in asyncio.run(list_tools())}
    assert "model_table" in tools
    assert "whether it can be used here without the internet" in (tools["model_table"].description or "")
