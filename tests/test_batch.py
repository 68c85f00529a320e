"""Batch cut-outs into a ZIP, from Python and from the command line (real u2netp, real photos)."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SAMPLES
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from pipeline.background import remove_background
from pipeline.batch import batch_cutouts
from pipeline.intake import load_image


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("chelsea.jpg", "coffee.jpg"):
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    (folder / "broken.png").write_bytes(b"not a picture")
    (folder / "notes.txt").write_text("not an image suffix: skipped")
    return folder


def read_png(bundle: zipfile.ZipFile, name: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(bundle.read(name))))


def test_batch_writes_cutouts_and_reports_failures(photo_folder: Path, tmp_path: Path) -> None:
    photos = [photo_folder / name for name in ("broken.png", "chelsea.jpg", "coffee.jpg")]
    seen: list[float] = []
    report = batch_cutouts(photos, tmp_path / "out.zip", model="u2netp", background=(0, 0, 255),
                           progress=lambda fraction, _: seen.append(fraction))
    assert report.processed == ("chelsea.jpg", "coffee.jpg")
    assert report.failed == (("broken.png", "This file is not an image that can be read. Please upload a PNG, "
                                            "JPEG, WebP, GIF, BMP or TIFF."),)
    assert seen == sorted(seen) and seen[-1] == 1.0
    with zipfile.ZipFile(report.archive) as bundle:
        assert sorted(bundle.namelist()) == ["chelsea-composite.jpg", "chelsea-cutout.png", "coffee-composite.jpg",
                                             "coffee-cutout.png", "errors.txt"]
        assert "broken.png: This file is not an image" in bundle.read("errors.txt").decode()
        cutout = read_png(bundle, "chelsea-cutout.png")
        composite = np.asarray(Image.open(io.BytesIO(bundle.read("chelsea-composite.jpg")))).astype(int)
    direct = remove_background(load_image(SAMPLES / "chelsea.jpg").image, model="u2netp")
    assert cutout.shape == (300, 451, 4)
    assert (cutout == np.asarray(direct.image)).all()
    # Where the cut-out is fully transparent, the composite shows the blue backdrop.
    clear = cutout[..., 3] == 0
    assert clear.mean() > 0.05
    assert np.abs(composite[clear] - [0, 0, 255]).mean() < 6


def test_command_line_over_a_folder(photo_folder: Path, tmp_path: Path) -> None:
    archive = tmp_path / "cli.zip"
    run = subprocess.run([sys.executable, "-m", "pipeline", "cutout", str(photo_folder), "-o", str(archive),
                          "--model", "u2netp"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1  # one photo failed; the others are in the ZIP
    assert "2 of 3 photos cut out." in run.stdout
    assert "broken.png: This file is not an image" in run.stdout
    with zipfile.ZipFile(archive) as bundle:  # the folder's layout, as pipeline.catalogue writes it
        assert {"chelsea.png", "coffee.png", "manifest.jsonl"} == set(bundle.namelist())


def test_command_line_says_when_there_is_nothing_to_do(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "pipeline", "cutout", str(tmp_path), "-o", str(tmp_path / "x.zip")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "No image files found" in run.stderr


def test_batch_endpoint(app_url: str, photo_folder: Path, tmp_path: Path) -> None:
    """The app's batch endpoint gives the same ZIP as the pipeline, and names the file it could not read."""
    client = Client(app_url, verbose=False)
    photos = [handle_file(photo_folder / name) for name in ("chelsea.jpg", "broken.png", "coffee.jpg")]
    archive, summary = client.predict(photos, model="u2netp", composite="color", colour="#0000ff",
                                      api_name="/batch_remove_background")
    assert summary.startswith("2 of 3 photos cut out.\nbroken.png: This file is not an image")
    direct = batch_cutouts([photo_folder / name for name in ("chelsea.jpg", "broken.png", "coffee.jpg")],
                           tmp_path / "direct.zip", model="u2netp", background=(0, 0, 255))
    with zipfile.ZipFile(archive) as served, zipfile.ZipFile(direct.archive) as expected:
        assert sorted(served.namelist()) == sorted(expected.namelist())
        for name in ("chelsea-cutout.png", "coffee-cutout.png"):
            assert (read_png(served, name) == read_png(expected, name)).all()

    with pytest.raises(AppError, match="upload one or more photos"):
        client.predict([], api_name="/batch_remove_background")
