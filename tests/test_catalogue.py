"""Catalogue jobs run locally: layout, manifest, resume after a kill, fsspec URLs, ZIPs (real u2netp, real photos)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import fsspec
import numpy as np
import pytest
from conftest import ROOT, SAMPLES
from PIL import Image

from pipeline import catalogue
from pipeline.background import remove_background
from pipeline.catalogue import MANIFEST, CutoutSettings, list_photos, run_catalogue
from pipeline.compose import superimpose
from pipeline.intake import load_image

EVAL = ROOT.parent / "shared" / "eval" / "davis-dev" / "images"
UNREADABLE = "This file is not an image that can be read. Please upload a PNG, JPEG, WebP, GIF, BMP or TIFF."


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A small catalogue in nested folders, with an unreadable file and a name that two photos would share."""
    folder = tmp_path / "shop"
    for relative, sample in (("cats/chelsea.jpg", "chelsea.jpg"), ("mugs/coffee.jpg", "coffee.jpg"),
                             ("mugs/deep/coffee.png", "coffee.jpg"), ("mugs/coffee.webp", "chelsea.jpg")):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes((SAMPLES / sample).read_bytes())
    (folder / "mugs" / "broken.jpg").write_bytes(b"not a picture")
    (folder / "notes.txt").write_text("not an image suffix: not listed")
    return folder


def manifest(destination: Path) -> dict[str, dict]:
    return {record["output"]: record
            for record in map(json.loads, (destination / MANIFEST).read_text().splitlines())}


def test_folder_job_mirrors_layout_with_manifest_and_remove_tab_results(shop: Path, tmp_path: Path) -> None:
    destination = tmp_path / "out"
    settings = CutoutSettings(model="u2netp", refine_edges=False, decontaminate="off", backdrop_colour=(0, 0, 255))
    seen: list[tuple[int, int]] = []
    report = run_catalogue([shop], destination, settings, progress=lambda done, total: seen.append((done, total)))
    assert (report.total, report.done, report.skipped) == (5, 4, 0)
    assert report.failed == [(str(shop / "mugs" / "broken.jpg"), UNREADABLE)]
    assert seen[0] == (0, 5) and seen[-1] == (5, 5) and seen == sorted(seen)
    records = manifest(destination)
    # coffee.jpg and coffee.webp share a folder and a stem: the later in name order gets "-2".
    assert set(records) == {"cats/chelsea.png", "mugs/broken.png", "mugs/coffee.png", "mugs/coffee-2.png",
                            "mugs/deep/coffee.png"}
    assert records["mugs/broken.png"]["status"] == "failed"
    assert records["mugs/broken.png"]["message"] == UNREADABLE
    assert not (destination / "mugs" / "broken.png").exists()
    for output, source in (("cats/chelsea.png", "cats/chelsea.jpg"), ("mugs/coffee-2.png", "mugs/coffee.webp"),
                           ("mugs/deep/coffee.png", "mugs/deep/coffee.png")):
        record = records[output]
        assert record["status"] == "done" and record["source"] == str(shop / source) and record["seconds"] > 0
        # The Remove tab's call with the same options, computed here independently.
        direct = remove_background(load_image(shop / source).image, model="u2netp", refine_edges=False,
                                   decontaminate="off")
        written = np.asarray(Image.open(destination / output))
        assert (written == np.asarray(direct.image)).all()
        assert record["coverage"] == pytest.approx(np.asarray(direct.mask).mean() / 255, abs=1e-4)
        composite = np.asarray(Image.open(destination / record["composite"])).astype(int)
        reference = np.asarray(superimpose(direct.image, (0, 0, 255)).convert("RGB")).astype(int)
        assert np.abs(composite - reference).mean() < 2  # JPEG's loss only
    assert 0.05 < records["cats/chelsea.png"]["coverage"] < 0.95


def test_rerun_skips_what_is_done_and_redoes_what_changed(shop: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    destination = tmp_path / "out"
    settings = CutoutSettings(model="u2netp")
    run_catalogue([shop], destination, settings)
    first = manifest(destination)
    mtimes = {name: (destination / name).stat().st_mtime_ns for name in first if first[name]["status"] == "done"}

    again = run_catalogue([shop], destination, settings)
    assert (again.skipped, again.done, len(again.failed)) == (4, 0, 1)  # only the unreadable file is tried again
    assert {name: (destination / name).stat().st_mtime_ns for name in mtimes} == mtimes

    # A changed source, a lost output: those two are done again, the rest skipped.
    (shop / "cats" / "chelsea.jpg").write_bytes((SAMPLES / "coffee.jpg").read_bytes())
    (destination / "mugs" / "deep" / "coffee.png").unlink()
    third = run_catalogue([shop], destination, settings)
    assert (third.skipped, third.done) == (2, 2)
    chelsea = np.asarray(Image.open(destination / "cats" / "chelsea.png"))
    assert chelsea.shape[:2] == load_image(SAMPLES / "coffee.jpg").image.size[::-1]
    assert len((destination / MANIFEST).read_text().splitlines()) == 5  # one line per photo after each run

    # Other settings give other results: everything is done again; so does other code (a new version).
    fourth = run_catalogue([shop], destination, CutoutSettings(model="u2netp", refine_edges=False))
    assert (fourth.skipped, fourth.done) == (0, 4)
    monkeypatch.setattr(catalogue, "_code_version", lambda: "another version")
    fifth = run_catalogue([shop], destination, CutoutSettings(model="u2netp", refine_edges=False))
    assert (fifth.skipped, fifth.done) == (0, 4)


def test_killed_run_is_finished_by_the_rerun(tmp_path: Path) -> None:
    if not EVAL.is_dir():
        pytest.skip("needs ../shared/eval")
    source = tmp_path / "photos"
    source.mkdir()
    for photo in sorted(EVAL.glob("*.jpg"))[:14]:
        (source / photo.name).write_bytes(photo.read_bytes())
    destination = tmp_path / "out"
    job = [sys.executable, "-m", "pipeline", "cutout", str(source), "-o", str(destination), "--model", "u2netp"]
    first = subprocess.Popen(job, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while (not (destination / MANIFEST).exists() or len((destination / MANIFEST).read_text().splitlines()) < 3):
            assert first.poll() is None and time.monotonic() < deadline, "the job ended before it could be killed"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait()
    done = {name: (destination / name).stat().st_mtime_ns for name, record in manifest(destination).items()
            if record["status"] == "done"}
    assert 3 <= len(done) < 14
    rerun = subprocess.run(job, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"14 of 14 photos cut out ({len(done)} already done by an earlier run)." in rerun.stdout
    assert "photos/s" in rerun.stderr  # the progress bar
    assert {name: (destination / name).stat().st_mtime_ns for name in done} == done  # nothing redone
    records = manifest(destination)
    assert len(records) == 14 and all(record["status"] == "done" for record in records.values())
    for name in records:  # nothing lost: every file whole and the Remove tab's result
        photo = load_image(source / Path(name).with_suffix(".jpg").name).image
        assert (np.asarray(Image.open(destination / name)) == np.asarray(
            remove_background(photo, model="u2netp").image)).all()


def test_fsspec_urls_in_and_out(tmp_path: Path) -> None:
    memory = fsspec.filesystem("memory")
    memory.pipe_file("/bucket/photos/cats/chelsea.jpg", (SAMPLES / "chelsea.jpg").read_bytes())
    memory.pipe_file("/bucket/photos/bad.png", b"nope")
    assert [photo.output for photo in list_photos(["memory://bucket/photos"])] == ["bad.png", "cats/chelsea.png"]
    report = run_catalogue(["memory://bucket/photos"], "memory://bucket/cutouts", CutoutSettings(model="u2netp"))
    assert (report.done, len(report.failed)) == (1, 1)
    written = Image.open(memory.open("/bucket/cutouts/cats/chelsea.png"))
    direct = remove_background(load_image(SAMPLES / "chelsea.jpg").image, model="u2netp")
    assert (np.asarray(written) == np.asarray(direct.image)).all()
    lines = memory.cat_file("/bucket/cutouts/manifest.jsonl").decode().splitlines()
    assert len(lines) == 2 and json.loads(lines[-1])["source"] == "memory://bucket/photos/cats/chelsea.jpg"
    rerun = run_catalogue(["memory://bucket/photos"], "memory://bucket/cutouts", CutoutSettings(model="u2netp"))
    assert (rerun.skipped, rerun.done) == (1, 0)
    memory.rm("/bucket", recursive=True)


def test_zip_destination_and_no_ray_without_the_flag(shop: Path, tmp_path: Path) -> None:
    archive = tmp_path / "cutouts.zip"
    # In a fresh interpreter, to see that the job never imports Ray without --ray.
    run = subprocess.run([sys.executable, "-c", "import sys; from pipeline.__main__ import main;"
                          " code = main(sys.argv[1:]); print('ray imported:', 'ray' in sys.modules); sys.exit(code)",
                          "cutout", str(shop / "cats"), str(shop / "mugs" / "coffee.jpg"), "-o", str(archive),
                          "--model", "u2netp", "--no-refine", "--color", "#ffffff"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "2 of 2 photos cut out." in run.stdout and "ray imported: False" in run.stdout
    with zipfile.ZipFile(archive) as bundle:
        assert sorted(bundle.namelist()) == ["chelsea-composite.jpg", "chelsea.png", "coffee-composite.jpg",
                                             "coffee.png", MANIFEST]
    assert not Path(str(archive) + ".parts").exists()


def test_command_line_bad_backdrop_and_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").write_bytes((SAMPLES / "chelsea.jpg").read_bytes())
    run = subprocess.run([sys.executable, "-m", "pipeline", "cutout", str(tmp_path), "-o", str(tmp_path / "out"),
                          "--background", str(tmp_path / "missing.jpg")], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2 and "Background" in run.stderr and "Traceback" not in run.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    run = subprocess.run([sys.executable, "-m", "pipeline", "cutout", str(empty), "-o", str(tmp_path / "o2")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "No image files found" in run.stderr



# Run in a fresh interpreter: a network given one thread (as each Ray actor's is) infers in a loop in a thread
# while the main thread reads how many CPUs that thread may run on. OpenVINO's default pinning put the one-thread
# actors of a node all on core 0 while the other core idled; the thread must keep every CPU of the process.
PINNING_PROBE = """
import json, os, threading
from PIL import Image
from pipeline import background

def cpu_count(cpu_list):  # "0-3,6" -> 5
    count = 0
    for part in cpu_list.split(","):
        first, _, last = part.partition("-")
        count += int(last or first) - int(first) + 1
    return count

background.INFERENCE_THREADS = 1
photo = Image.open(os.environ["PHOTO"]).convert("RGB")
background.model_mask(photo, model="u2netp")
done, seen = threading.Event(), set()

def infer():
    for _ in range(20):
        background.model_mask(photo, model="u2netp")
    done.set()

worker = threading.Thread(target=infer)
worker.start()
while not done.is_set():
    with open(f"/proc/self/task/{worker.native_id}/status") as status:
        seen.add(next(line.split()[1] for line in status if line.startswith("Cpus_allowed_list")))
worker.join()
print(json.dumps({"fewest": min(map(cpu_count, seen)), "process": len(os.sched_getaffinity(0))}))
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to tell pinning apart")
def test_one_thread_network_is_not_pinned_to_a_core() -> None:
    run = subprocess.run([sys.executable, "-c", PINNING_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PHOTO": str(SAMPLES / "chelsea.jpg")})
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(run.stdout.splitlines()[-1])
    assert figures["fewest"] == figures["process"], figures
