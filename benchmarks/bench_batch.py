"""Catalogue throughput: rembg's own folder command (`rembg p`) against our job, locally and on a two-node Ray cluster.

The same photos (evenly spaced DAVIS-dev frames, 854×480), u2net, each command run from start to end as a user
runs it (start-up and model loading included), one after another on the same cores:

- `rembg p -m u2net SRC DEST` (rembg 2.0.86 in its own virtualenv, onnxruntime f32): the anchor;
- `python -m pipeline cutout SRC -o DEST --model u2net` (precision auto, edge refinement and decontamination on,
  as the Remove tab: the results are the Remove tab's);
- the same with `--ray 127.0.0.1:PORT` on a head and a worker node of one CPU each on loopback (in namespaces of
  their own, see benchmarks/ray_cluster.py), the cluster started before the clock: one actor per CPU.

The headline is each whole command's wall-clock. Beside it: when the first result file was written (start-up: imports,
Ray's connection and actors, the network's compilation, the first photo), the rate from the first result file to
the last (the rate a long catalogue runs at once started), and the CPU seconds of every process the run took (for
Ray, the cluster's processes too: its driver, actors, raylets).

    python -m benchmarks.bench_batch [--photos 56] [--quick]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
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


# Runs a command, from start to end, and prints its figures: wall-clock seconds, when its first and last result
# files were written (their modification times), and the CPU seconds it cost. "children": the command's own
# processes (the local runs); "namespace": every process this PID namespace holds (the Ray cluster's too, sampled
# twice a second, since Ray's workers are not the command's children).
JOB_TIMER = r"""
import json, resource, subprocess, sys, time
from pathlib import Path

import psutil

scope, destination, *command = sys.argv[1:]


def namespace_cpu() -> dict:
    seconds = {}
    for process in psutil.process_iter():
        try:
            times = process.cpu_times()
            seconds[(process.pid, process.create_time())] = times.user + times.system
        except psutil.Error:
            pass
    return seconds


before = namespace_cpu() if scope == "namespace" else {}
peak = dict(before)
started_epoch, started = time.time(), time.perf_counter()
job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
while scope == "namespace" and job.poll() is None:
    for key, value in namespace_cpu().items():
        peak[key] = max(peak.get(key, 0.0), value)
    time.sleep(0.5)
output, errors = job.communicate()
seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
if scope == "namespace":
    peak.pop(next((key for key in peak if key[0] == job.pid), None), None)  # counted by rusage below
    cpu = usage.ru_utime + usage.ru_stime + sum(value - before.get(key, 0.0) for key, value in peak.items()
                                                if key[0] != psutil.Process().pid)
else:
    cpu = usage.ru_utime + usage.ru_stime
written = sorted(path.stat().st_mtime for path in Path(destination).rglob("*.png"))
print(output, errors[-3000:] if job.returncode else "")
print("TIMER " + json.dumps({"rc": job.returncode, "seconds": seconds, "cpu": cpu, "results": len(written),
                             "first": written[0] - started_epoch if written else None,
                             "last": written[-1] - started_epoch if written else None}))
"""


@dataclass
class Run:
    name: str
    seconds: float  # the whole command, start-up included
    cpu: float  # CPU seconds of every process it took
    first: float  # seconds from the start to its first result file
    last: float  # … to its last
    note: str = ""

    def steady_rate(self, count: int) -> float:
        """Photos per second from the first result to the last: the rate once started."""
        return (count - 1) / max(self.last - self.first, 1e-9)


def timer_figures(stdout: str, command: Sequence[str]) -> dict:
    found = re.search(r"^TIMER (.*)$", stdout, re.MULTILINE)
    figures = json.loads(found.group(1)) if found else None
    if figures is None or figures["rc"] != 0:
        raise SystemExit(f"{list(command[:4])} failed:\n{stdout[-3000:]}")
    return figures


def timed(timer: Path, destination: Path, command: list[str], **options) -> dict:
    run = subprocess.run([sys.executable, str(timer), "children", str(destination), *command], capture_output=True,
                         text=True, **options)
    return timer_figures(run.stdout + run.stderr, command)


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
        timer = work_dir / "timer.py"
        timer.write_text(JOB_TIMER)
        runs: list[Run] = []

        figures = timed(timer, work_dir / "rembg", [str(rembg), "p", "-m", MODEL, str(source), str(work_dir / "rembg")],
                        env=rembg_env())
        assert figures["results"] == count
        runs.append(Run("`rembg p` (rembg 2.0.86, onnxruntime f32)", figures["seconds"], figures["cpu"],
                        figures["first"], figures["last"]))

        job = [sys.executable, "-m", "pipeline", "cutout", str(source), "--model", MODEL]
        figures = timed(timer, work_dir / "local", [*job, "-o", str(work_dir / "local")], cwd=ROOT)
        assert figures["results"] == count
        local = Run(f"our job, local (precision auto = {resolve_precision(MODEL)})", figures["seconds"],
                    figures["cpu"], figures["first"], figures["last"])
        runs.append(local)

        ray_run = None
        if namespaces_available():
            port = 6395
            command = [sys.executable, str(timer), "namespace", str(work_dir / "ray"), *job, "-o",
                       str(work_dir / "ray"), "--ray", f"127.0.0.1:{port}"]
            result = run_in_cluster(command, port=port, timeout=1800)
            figures = timer_figures(result.stdout, command[3:])
            assert figures["results"] == count
            memory = re.search(r"peak memory per actor (\d+) MB", result.stdout)
            ray_run = Run("our job, Ray: 2 nodes × 1 CPU on loopback, 2 actors", figures["seconds"], figures["cpu"],
                          figures["first"], figures["last"],
                          f"{memory.group(1)} MB per actor (peak RSS); CPU: every process of the cluster"
                          if memory else "")
            runs.append(ray_run)

    anchor = runs[0]
    print(f"### Catalogue job: {count} photos (DAVIS-dev, 854×480), {MODEL}, whole commands on the same 2 cores\n")
    print("| run | seconds | photos/s | × `rembg p` | first result at (s) | photos/s after the first | CPU s | note |")
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(f"| {run.name} | {run.seconds:.1f} | {count / run.seconds:.2f} | {anchor.seconds / run.seconds:.2f}× "
              f"| {run.first:.1f} | {run.steady_rate(count):.2f} | {run.cpu:.0f} | {run.note} |")
    print("\n(seconds and photos/s: the whole command, start-up included; first result at: start-up until the first "
          "photo's file is written; photos/s after the first: from the first result file to the last.)")
    print(f"\nGoals: local ≥ 2× `rembg p`: {anchor.seconds / local.seconds:.2f}×"
          f" ({'met' if anchor.seconds / local.seconds >= 2 else 'not met'}).")
    if ray_run is not None:
        ratio = local.seconds / ray_run.seconds
        print(f"Ray ≥ 0.85× local on the same two cores (whole commands): {ratio:.2f}×"
              f" ({'met' if ratio >= 0.85 else 'not met'}); once started (photos/s after the first result): "
              f"{ray_run.steady_rate(count) / local.steady_rate(count):.2f}×; start-up "
              f"{ray_run.first:.1f} s against {local.first:.1f} s.")
        print(f"Per-core rate on Ray: {count / ray_run.seconds / 2:.2f} photos/s per CPU with start-up, "
              f"{ray_run.steady_rate(count) / 2:.2f} once started (854×480, {MODEL}).")
    else:
        print("Ray: skipped (no network/PID namespaces here).")


if __name__ == "__main__":
    main()
