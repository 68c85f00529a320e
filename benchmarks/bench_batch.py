"""Catalogue throughput: rembg's own folder command (`rembg p`) against our job, locally and on a two-node Ray cluster.

The same photos (evenly spaced DAVIS-dev frames, 854×480), u2net, each command run from start to end as a user
runs it (start-up and model loading included), one after another on the same cores:

- `rembg p -m u2net SRC DEST` (rembg 2.0.86 in its own virtualenv, onnxruntime f32): the anchor;
- `python -m pipeline cutout SRC -o DEST --model u2net` (precision auto, edge refinement and decontamination on,
  as the Remove tab: the results are the Remove tab's);
- the same with `--ray 127.0.0.1:PORT` on a head and a worker node of one CPU each on loopback (in namespaces of
  their own, see benchmarks/ray_cluster.py), the cluster started before the clock: one actor per CPU.

    python -m benchmarks.bench_batch [--photos 56] [--quick]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.ray_cluster import namespaces_available, run_in_cluster
from benchmarks.rembg_cli import rembg_env, rembg_executable
from pipeline import models
from pipeline.background import resolve_precision

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "davis-dev" / "images"
MODEL = "u2net"


def photo_folder(count: int, folder: Path) -> Path:
    photos = sorted(EVAL.glob("*.jpg"))
    step = max(1, len(photos) // count)
    for photo in photos[::step][:count]:
        shutil.copy(photo, folder / photo.name)
    return folder


def timed(command: list[str], **options) -> tuple[float, str]:
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, **options)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"{command[:4]} failed ({run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return seconds, run.stdout


RAY_TIMER = r"""
import subprocess, sys, time
started = time.perf_counter()
run = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(run.stdout, run.stderr[-1500:] if run.returncode else "")
print(f"SECONDS {time.perf_counter() - started:.3f} RC {run.returncode}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=56)
    parser.add_argument("--quick", action="store_true", help="12 photos")
    args = parser.parse_args()
    count = 12 if args.quick else args.photos
    models.ensure_model(MODEL)  # before the namespace, which has no network
    rembg = rembg_executable()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as work:
        work_dir = Path(work)
        (work_dir / "photos").mkdir()
        source = photo_folder(count, work_dir / "photos")
        rows: list[tuple[str, float, str]] = []

        rembg_seconds, _ = timed([str(rembg), "p", "-m", MODEL, str(source), str(work_dir / "rembg")], env=rembg_env())
        assert len(list((work_dir / "rembg").glob("*.png"))) == count
        rows.append(("`rembg p` (rembg 2.0.86, onnxruntime f32)", rembg_seconds, ""))

        job = [sys.executable, "-m", "pipeline", "cutout", str(source), "--model", MODEL]
        local_seconds, _ = timed([*job, "-o", str(work_dir / "local")], cwd=ROOT)
        precision = resolve_precision(MODEL)
        rows.append((f"our job, local (precision auto = {precision})", local_seconds, ""))

        ray_seconds = None
        if namespaces_available():
            timer = work_dir / "timer.py"
            timer.write_text(RAY_TIMER)
            port = 6395
            result = run_in_cluster([sys.executable, str(timer), *job, "-o", str(work_dir / "ray"), "--ray",
                                     f"127.0.0.1:{port}"], port=port, timeout=1800)
            found = re.search(r"SECONDS ([\d.]+) RC (\d+)", result.stdout)
            if not found or found.group(2) != "0":
                raise SystemExit(f"the Ray job failed:\n{result.stdout[-3000:]}")
            ray_seconds = float(found.group(1))
            memory = re.search(r"peak memory per actor (\d+) MB", result.stdout)
            rows.append(("our job, Ray: 2 nodes × 1 CPU on loopback, 2 actors", ray_seconds,
                         f"{memory.group(1)} MB per actor (peak RSS)" if memory else ""))

    print(f"### Catalogue job: {count} photos (DAVIS-dev, 854×480), {MODEL}, whole commands on the same 2 cores\n")
    print("| run | seconds | photos/s | × `rembg p` | note |")
    print("|---|---|---|---|---|")
    for name, seconds, note in rows:
        print(f"| {name} | {seconds:.1f} | {count / seconds:.2f} | {rembg_seconds / seconds:.2f}× | {note} |")
    print(f"\nGoals: local ≥ 2× `rembg p`: {rembg_seconds / local_seconds:.2f}×"
          f" ({'met' if rembg_seconds / local_seconds >= 2 else 'not met'}).")
    if ray_seconds is not None:
        ratio = local_seconds / ray_seconds
        print(f"Ray ≥ 0.85× local on the same two cores: {ratio:.2f}× ({'met' if ratio >= 0.85 else 'not met'}).")
        print(f"Per-core rate on Ray: {count / ray_seconds / 2:.2f} photos/s per CPU (854×480, {MODEL}, start-up in).")
    else:
        print("Ray: skipped (no network/PID namespaces here).")


if __name__ == "__main__":
    main()
