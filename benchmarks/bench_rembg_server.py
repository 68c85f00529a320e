"""The rembg-compatible API: the same requests to ``python app.py`` and to rembg's own ``rembg s``, same run.

    python -m benchmarks.bench_rembg_server            # 5 sample photos, a DAVIS photo, 1 MP and 12 MP; 3 rounds
    python -m benchmarks.bench_rembg_server --quick    # the samples and 1 MP, 2 rounds

Both servers run on loopback at once; each request is what a rembg client sends: ``POST /api/remove`` with the
photo as a multipart ``file`` and ``model=u2net`` (rembg 2.0.86's own default is bria-rmbg, which is not offline),
every other option defaulted, the PNG read back in full. Rounds interleave the two servers photo by photo and the
median round trip is reported, with the CPU seconds each server spent on it (psutil, the whole server process).
rembg's ``rembg s`` is rembg[cli] 2.0.86 from its own virtualenv (:mod:`benchmarks.rembg_cli`), onnxruntime on
the same model file. 1 MP and 12 MP are the GrabCut flower scaled up with a little grain (as bench_app).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from PIL import Image

from benchmarks.bench_app import grainy_jpeg
from benchmarks.harness import ROOT, free_port, launch_app, stop, wait_for_http
from benchmarks.rembg_cli import rembg_env, rembg_executable

SAMPLES = sorted((ROOT / "assets" / "samples").glob("*.jpg"))
DAVIS_PHOTO = ROOT.parent / "shared" / "eval" / "davis-dev" / "images" / "000.jpg"
MODEL = "u2net"
ROUNDS = 3
QUICK_ROUNDS = 2
SPEED_UP_GOAL = 1.5  # issue 16: round trips through our server at least 1.5× faster than through rembg s


def launch_rembg_server() -> tuple[subprocess.Popen, str]:
    """Start rembg's own ``rembg s --no-ui`` on a free loopback port; return the process and its base URL."""
    port = free_port()
    env = {**rembg_env(), "BROWSER": "true"}  # rembg s opens a browser at start-up: make that a no-op
    process = subprocess.Popen([str(rembg_executable()), "s", "--host", "127.0.0.1", "--port", str(port), "--no-ui",
                                "--log_level", "warning"], env=env, stdout=2)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url + "api", process, timeout_s=300)  # the first import compiles pymatting's numba code
    except BaseException:
        process.kill()
        raise
    return process, url


def post_remove(client: httpx.Client, url: str, photo: Path, **fields: str) -> bytes:
    """``POST /api/remove`` as rembg's README does it (``curl -F file=@photo``), the PNG returned."""
    response = client.post(url + "api/remove", files={"file": (photo.name, photo.read_bytes())},
                           data={"model": MODEL, **fields})
    response.raise_for_status()
    return response.content


def cpu_seconds(process: psutil.Process) -> float:
    return sum(child.cpu_times().user + child.cpu_times().system for child in [process, *process.children(True)])


def round_trip(client: httpx.Client, url: str, photo: Path, server: psutil.Process) -> tuple[float, float]:
    """Wall seconds of one request, and the server's CPU seconds for it."""
    cpu = cpu_seconds(server)
    started = time.perf_counter()
    post_remove(client, url, photo)
    return time.perf_counter() - started, cpu_seconds(server) - cpu


def main() -> int:
    quick = sys.argv[1:2] == ["--quick"]
    rounds = QUICK_ROUNDS if quick else ROUNDS
    ours, our_url, _ = launch_app()
    theirs, their_url = launch_rembg_server()
    try:
        servers = {"ours": (our_url, psutil.Process(ours.pid)), "rembg": (their_url, psutil.Process(theirs.pid))}
        with tempfile.TemporaryDirectory() as folder, httpx.Client(timeout=600) as client:
            photos = [*SAMPLES, *([] if quick or not DAVIS_PHOTO.exists() else [DAVIS_PHOTO])]
            photos += [grainy_jpeg(megapixels, Path(folder)) for megapixels in ((1,) if quick else (1, 12))]
            for url, _ in servers.values():  # warm: sessions made, shapes compiled
                post_remove(client, url, photos[0])
            print("| photo | pixels | rembg s: s | ours: s | speed-up | rembg s: CPU s | ours: CPU s |\n"
                  "|---|---|---|---|---|---|---|")
            totals = {"ours": 0.0, "rembg": 0.0}
            for photo in photos:
                post_remove(client, our_url, photo), post_remove(client, their_url, photo)  # this size warm
                measured: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
                for _ in range(rounds):
                    for name, (url, process) in servers.items():
                        measured[name].append(round_trip(client, url, photo, process))
                wall = {name: statistics.median(m[0] for m in values) for name, values in measured.items()}
                cpu = {name: statistics.median(m[1] for m in values) for name, values in measured.items()}
                for name in totals:
                    totals[name] += wall[name]
                width, height = Image.open(photo).size
                print(f"| {photo.name} | {width}×{height} | {wall['rembg']:.2f} | {wall['ours']:.2f} | "
                      f"{wall['rembg'] / wall['ours']:.2f}× | {cpu['rembg']:.2f} | {cpu['ours']:.2f} |", flush=True)
    finally:
        stop(ours)
        stop(theirs)
    speed_up = totals["rembg"] / totals["ours"]
    verdict = "met" if speed_up >= SPEED_UP_GOAL else "NOT met"
    print(f"\nAll photos, one request each: rembg s {totals['rembg']:.2f} s, ours {totals['ours']:.2f} s: "
          f"{speed_up:.2f}× faster round trips (goal ≥ {SPEED_UP_GOAL}×: {verdict}). Model {MODEL}, rembg's "
          f"default options (ours: precision auto, no edge refinement), median of {rounds} rounds.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
