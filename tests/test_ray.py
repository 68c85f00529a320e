"""Catalogue jobs on a real two-node Ray cluster (head + one worker node, one CPU each) on loopback, with faults.

The cluster runs in a network and PID namespace of its own (benchmarks/ray_cluster.py). One test kills the worker
node mid-job, the other the driver; both compare every cut-out with the Remove tab's call on that photo.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.ray_cluster import namespaces_available, run_in_cluster
from pipeline import models
from pipeline.background import remove_background
from pipeline.catalogue import MANIFEST
from pipeline.intake import load_image

pytest.importorskip("ray")
EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "davis-dev" / "images"
PHOTOS = 40
pytestmark = [
    pytest.mark.skipif(not EVAL.is_dir(), reason="needs ../shared/eval"),
    pytest.mark.skipif(not namespaces_available(), reason="needs unshare (network and PID namespaces)"),
    pytest.mark.timeout(1500),
]

# Runs inside the namespace: the job in a subprocess, a fault once some photos are done, then (for the driver) a
# rerun; prints what it saw as one JSON line.
CONTROL = r"""
import json, os, signal, subprocess, sys, time
from pathlib import Path
from benchmarks.ray_cluster import kill_worker_node

fault, source, destination = sys.argv[1:4]
manifest = Path(destination, "manifest.jsonl")
job = [sys.executable, "-m", "pipeline", "cutout", source, "-o", destination, "--model", "u2netp",
       "--ray", os.environ["RAY_ADDRESS"]]

def done() -> dict:
    lines = manifest.read_text().splitlines() if manifest.exists() else []
    records = [json.loads(line) for line in lines if line.endswith("}")]
    return {r["output"]: r for r in records if r["status"] == "done"}

first = subprocess.Popen(job, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
while len(done()) < 8 and first.poll() is None:
    time.sleep(0.2)
seen = {"done_at_fault": len(done())}
if fault == "worker":
    seen["killed"] = kill_worker_node()
    output, _ = first.communicate()
    seen.update(rc=first.returncode, output=output)
else:
    first.send_signal(signal.SIGKILL)
    first.wait()
    time.sleep(1)
    before = done()
    seen["done_before_rerun"] = len(before)
    seen["files_before"] = {name: os.stat(Path(destination, name)).st_mtime_ns for name in before}
    rerun = subprocess.run(job, capture_output=True, text=True)
    seen.update(rc=rerun.returncode, output=rerun.stdout)
print("RESULT " + json.dumps(seen))
"""


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models.ensure_model("u2netp")  # into the store now: the namespace has no network
    folder = tmp_path_factory.mktemp("catalogue") / "photos"
    for index, photo in enumerate(sorted(EVAL.glob("*.jpg"))[:PHOTOS]):
        target = folder / ("shelf-a" if index % 2 else "shelf-b") / photo.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(photo.read_bytes())
    return folder


@pytest.fixture(scope="module")
def expected(photos: Path) -> dict[str, np.ndarray]:
    """Each photo's cut-out as the Remove tab computes it (remove_background with its defaults), by output name."""
    return {path.relative_to(photos).with_suffix(".png").as_posix():
            np.asarray(remove_background(load_image(path).image, model="u2netp").image)
            for path in sorted(photos.rglob("*.jpg"))}


def run_with_fault(fault: str, photos: Path, destination: Path, port: int) -> dict:
    control = destination.parent / f"control-{fault}.py"
    control.write_text(CONTROL)
    result = run_in_cluster([sys.executable, str(control), fault, str(photos), str(destination)], port=port,
                            timeout=1400)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stdout[-4000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


def assert_all_equal(destination: Path, expected: dict[str, np.ndarray]) -> list[dict]:
    records = [json.loads(line) for line in (destination / MANIFEST).read_text().splitlines()]
    assert len(records) == len(expected) == len({record["source"] for record in records})  # one line per photo
    assert {record["output"] for record in records} == set(expected)
    assert all(record["status"] == "done" and 0 < record["coverage"] < 1 for record in records)
    for name, cutout in expected.items():
        written = np.asarray(Image.open(destination / name))
        assert written.shape == cutout.shape and (written == cutout).all(), name
    return records


def test_job_survives_losing_the_worker_node(photos: Path, expected: dict[str, np.ndarray], tmp_path: Path) -> None:
    destination = tmp_path / "cutouts"
    seen = run_with_fault("worker", photos, destination, port=6391)
    assert seen["killed"] >= 2, seen  # the node's raylet and at least its actor
    assert seen["done_at_fault"] < PHOTOS, seen  # the node was lost mid-job
    assert seen["rc"] == 0, seen["output"]
    assert f"{PHOTOS} of {PHOTOS} photos cut out." in seen["output"]
    assert re.search(r"Ray: 2 nodes \([12] did work\), 2 CPUs", seen["output"]), seen["output"]
    assert_all_equal(destination, expected)


def test_killed_driver_rerun_redoes_nothing_done(photos: Path, expected: dict[str, np.ndarray],
                                                 tmp_path: Path) -> None:
    destination = tmp_path / "cutouts"
    seen = run_with_fault("driver", photos, destination, port=6392)
    kept = seen["done_before_rerun"]
    assert 8 <= kept < PHOTOS, seen
    assert seen["rc"] == 0, seen["output"]
    assert f"{PHOTOS} of {PHOTOS} photos cut out ({kept} already done by an earlier run)." in seen["output"]
    records = assert_all_equal(destination, expected)
    # What the killed run had done is untouched: the same files, the same manifest records.
    for name, mtime in seen["files_before"].items():
        assert (destination / name).stat().st_mtime_ns == mtime, name
    assert sum(record["output"] in seen["files_before"] for record in records) == kept


def test_model_the_actors_cannot_use_is_said_in_one_sentence(photos: Path, tmp_path: Path) -> None:
    job = [sys.executable, "-m", "pipeline", "cutout", str(photos), "-o", str(tmp_path / "cutouts"), "--model", "sam",
           "--ray", "127.0.0.1:6393"]
    result = run_in_cluster([sys.executable, "-c", "import subprocess, sys; "
                             f"run = subprocess.run({job!r}, capture_output=True, text=True); "
                             "print('RC', run.returncode); print(run.stderr[-2000:])"], port=6393, timeout=600)
    assert "RC 2" in result.stdout, result.stdout[-3000:]
    assert "The model 'sam' cannot be used here: it needs point prompts" in result.stdout
    assert "Traceback" not in result.stdout
