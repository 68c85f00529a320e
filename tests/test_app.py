"""`python app.py` serves the page on the configured port and answers the API."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

from pipeline import models
from pipeline.background import checkerboard_preview
from web.common import shown


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


MCP_TOOLS = {"remove_photo_background", "touch_up_photo", "batch_remove_background", "enhance_resolution",
             "superimpose_photo", "model_table"}


def test_mcp_server_lists_the_tools_and_runs_them_offline(app_url: str) -> None:
    async def list_and_call() -> tuple[list[types.Tool], types.CallToolResult]:
        async with streamable_http_client(app_url + "gradio_api/mcp/") as (read, write, _), \
                ClientSession(read, write) as session:
            await session.initialize()
            return (await session.list_tools()).tools, await session.call_tool("model_table", {})

    # In a thread of its own: Playwright's sync API, if a browser test ran first, keeps an event loop running
    # in this one, where asyncio.run would refuse to start.
    with ThreadPoolExecutor(1) as worker:
        listed, called = worker.submit(asyncio.run, list_and_call()).result()
    tools = {tool.name: tool for tool in listed}
    # Every public endpoint is a tool, none of the UI's helper events (examples, chaining, sample picking).
    assert set(tools) == MCP_TOOLS
    assert "whether it can be used here without the internet" in (tools["model_table"].description or "")
    assert "Remove the background of a photo" in (tools["remove_photo_background"].description or "")
    for tool in tools.values():
        assert "Args:" not in (tool.description or "")  # the docstring's arguments become the schema's fields
    assert {"photo", "model", "precision"} <= set(tools["remove_photo_background"].inputSchema["properties"])
    assert not called.isError
    text = "".join(part.text for part in called.content if isinstance(part, types.TextContent))
    assert "u2netp" in text and "single-image-super-resolution-1032-fp32" in text


def test_webp_downloads_and_light_previews(app_url: str, eval_dir: Path, tmp_path: Path) -> None:
    """WebP beside PNG on Remove and Superimpose (lossless where visible, smaller, upright for an EXIF-rotated
    upload; neither keeps the colour under alpha 0); previews are JPEG at most PREVIEW_SIDE px while the files keep
    full resolution."""
    client = Client(app_url, verbose=False)
    stored = Image.open(eval_dir / "grabcut" / "images" / "person1.jpg").convert("RGB")  # 600×450
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90° clockwise: upright it is 450×600
    rotated = tmp_path / "rotated.jpg"
    stored.save(rotated, quality=95, exif=exif.tobytes())

    runs = {fmt: client.predict(handle_file(str(rotated)), file_format=fmt, api_name="/remove_background")
            for fmt in ("png", "webp")}
    (before, after), webp, mask_png, _ = runs["webp"]
    assert Path(webp).name == "rotated-cutout.webp" and Path(mask_png).suffix == ".png"
    for preview in (before, after):
        with Image.open(preview) as shown:
            assert shown.format == "JPEG" and shown.size == (450, 600)
    with Image.open(webp) as served_webp, Image.open(runs["webp"][2]) as mask, Image.open(runs["png"][1]) as png:
        assert served_webp.format == "WEBP" and served_webp.size == (450, 600) and served_webp.mode == "RGBA"
        assert served_webp.getexif().get(0x0112, 1) == 1
        lossless, reference = np.asarray(served_webp), np.asarray(png)
        assert np.array_equal(lossless[..., 3], reference[..., 3])
        assert np.array_equal(np.asarray(mask), reference[..., 3])
        visible = reference[..., 3] > 0
        assert np.array_equal(lossless[visible], reference[visible])  # only colour under alpha 0 may go
        assert visible.any() and not reference[~visible].any()  # the PNG drops it too: (0, 0, 0, 0)
    assert Path(webp).stat().st_size < Path(runs["png"][1]).stat().st_size

    composites = {fmt: client.predict(handle_file(str(rotated)), None, "color", "#3366ff", file_format=fmt,
                                      api_name="/superimpose") for fmt in ("png", "webp")}
    (_, after), webp, jpeg, _ = composites["webp"]
    assert Path(webp).suffix == ".webp" and Path(jpeg).suffix == ".jpg"
    with Image.open(webp) as served_webp, Image.open(composites["png"][1]) as png, Image.open(after) as shown:
        assert served_webp.format == "WEBP" and shown.format == "JPEG" and served_webp.size == png.size == (450, 600)
        assert np.array_equal(np.asarray(served_webp.convert("RGB")), np.asarray(png.convert("RGB")))


def test_preview_is_the_premultiplied_area_average_over_the_checkerboard() -> None:
    """A large cut-out's preview, computed independently: colours premultiplied by alpha, averaged over each 2×2
    block (a 3200×2400 cut-out is shown at 1600×1200), then laid over the checkerboard; within the rounding of
    8-bit premultiplied colour (2.5 levels, where alpha is faint), and under half a level on average."""
    photo = Image.open(Path(__file__).resolve().parent.parent / "assets" / "samples" / "astronaut.jpg")
    photo = photo.convert("RGB").resize((3200, 2400), Image.Resampling.BICUBIC)
    rows, columns = np.indices((2400, 3200))
    alpha = np.clip(255 - np.hypot(rows - 1200, columns - 1600) / 4, 0, 255).astype(np.uint8)  # soft to none
    cutout = photo.copy()
    cutout.putalpha(Image.fromarray(alpha))

    preview = np.asarray(shown(cutout), np.float64)

    rgba = np.asarray(cutout, np.float64)
    premultiplied = np.concatenate([rgba[..., :3] * rgba[..., 3:] / 255, rgba[..., 3:]], axis=2)
    averaged = premultiplied.reshape(1200, 2, 1600, 2, 4).mean(axis=(1, 3))
    board = np.asarray(checkerboard_preview(Image.new("RGBA", (1600, 1200))), np.float64)
    truth = averaged[..., :3] + board * (1 - averaged[..., 3:] / 255)
    assert preview.shape == (1200, 1600, 3)
    error = np.abs(preview - truth)
    assert error.max() <= 2.5 and error.mean() < 0.5, (error.max(), error.mean())
    assert np.array_equal(np.asarray(shown(photo.resize((800, 600)))), np.asarray(photo.resize((800, 600))))
