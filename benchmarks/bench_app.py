"""The launched app: cold start, first request vs warm, and each endpoint's API overhead at 1 MP and 12 MP.

    python -m benchmarks.bench_app            # median of 3 interleaved rounds
    python -m benchmarks.bench_app --quick    # 1 MP only, median of 2

An endpoint's overhead is the median time of a ``gradio_client`` call (upload, the handler, its result files and
previews, the client downloading them) minus the median time of the same pipeline work done directly in this
process (reading the JPEG with ``pipeline.intake.load_image`` and the pipeline call, nothing encoded), rounds of the
two interleaved. CPU seconds are the server's and the client's together against this process's own. The anchor
for the cut-out is rembg itself in-process: ``rembg.remove`` turning the same JPEG bytes into PNG bytes with a
reused session (onnxruntime).

The client reuses one TLS context: ``gradio_client`` otherwise has httpx load the CA bundle afresh for each of a
call's HTTP requests (upload, join, stream, each download), even over plain http, ~0.03 s each here and 0.15–0.25 s
a call in all; that is the client's cost, not the server's, so it is measured once on its own (the last line).
The rembg-style ``/api/remove`` is called with httpx on one connection, as a script would call ``rembg s``.

Photos: the GrabCut flower photo scaled to 1 MP and 12 MP with a little grain (σ 2 levels; a scaled-up photo is
unnaturally smooth, so it would compress better than a camera's) as JPEG quality 90. Enhance resolution takes
photos whose ×4 result is 1 MP and 12 MP; touch-up gets a keep and a remove stroke mask (its pipeline work includes
the edge colours the endpoint gives); Superimpose puts the photo (cut out first) on a colour.
"""

from __future__ import annotations

import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psutil
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

from benchmarks.bench_background import scaled_photo
from benchmarks.harness import ROOT, launch_app, stop, timings
from pipeline import models, superres
from pipeline.background import Cutout, remove_background
from pipeline.compose import compose
from pipeline.intake import load_image
from pipeline.touchup import touch_up
from web.rembg_api import RembgParams, remove_like_rembg
from web.touchup import with_edge_colours

SAMPLE = ROOT / "assets" / "samples" / "astronaut.jpg"
MEGAPIXELS = (1, 12)
REPEATS = 3
QUICK_REPEATS = 2
OVERHEAD_GOALS = {1: 0.15, 12: 0.8}  # seconds per call, issue 15


def grainy_jpeg(megapixels: float, folder: Path) -> Path:
    photo = np.asarray(scaled_photo(megapixels), np.float32)
    grain = np.random.default_rng(0).normal(0, 2, photo.shape)
    path = folder / f"photo-{megapixels:g}mp.jpg"
    Image.fromarray(np.clip(photo + grain, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def stroke_masks(photo: Path, folder: Path) -> tuple[Path, Path]:
    """A keep stroke across the subject's middle and a remove stroke in a corner, on a 512 px wide layer."""
    width, height = Image.open(photo).size
    size = (512, round(512 * height / width))
    paths = []
    for name, line in (("keep", [(200, size[1] // 2), (312, size[1] // 2)]), ("remove", [(10, 10), (60, 10)])):
        layer = Image.new("L", size)
        ImageDraw.Draw(layer).line(line, fill=255, width=12)
        paths.append(folder / f"{name}-{photo.stem}.png")
        layer.save(paths[-1])
    return paths[0], paths[1]


def touched_up(photo: Path, keep: Path, remove: Path) -> Cutout:
    """The /touch_up endpoint's pipeline work: the touch-up, then the subject's colours under soft edges, as the
    endpoint gives them (as ``remove_background`` does by default)."""
    image = load_image(photo).image
    return with_edge_colours(image, touch_up(image, load_image(keep).image, load_image(remove).image), "fast")


@dataclass(frozen=True)
class Case:
    endpoint: str
    size: str  # what "1 MP" / "12 MP" means for this endpoint
    api: Callable[[Client, httpx.Client], object]
    direct: Callable[[], object]


def rembg_api_call(http: httpx.Client, photo: Path) -> bytes:
    answer = http.post("/api/remove", files={"file": (photo.name, photo.read_bytes(), "image/jpeg")})
    answer.raise_for_status()
    return answer.content


def cases(megapixels: int, folder: Path) -> list[Case]:
    photo = grainy_jpeg(megapixels, folder)
    keep, remove = stroke_masks(photo, folder)
    side = round((megapixels * 1e6) ** 0.5 / 4)
    small = folder / f"enhance-{megapixels}mp.jpg"
    Image.open(photo).resize((side, side), Image.Resampling.LANCZOS).save(small, quality=90)
    pixels = f"{Image.open(photo).width}×{Image.open(photo).height}"
    return [
        Case("remove_background", pixels,
             lambda c, _: c.predict(handle_file(str(photo)), api_name="/remove_background"),
             lambda: remove_background(load_image(photo).image)),
        Case("/api/remove (rembg s)", pixels, lambda _, http: rembg_api_call(http, photo),
             lambda: remove_like_rembg(photo.read_bytes(), RembgParams())),
        Case("touch_up", pixels,
             lambda c, _: c.predict(handle_file(str(photo)), handle_file(str(keep)), handle_file(str(remove)),
                                 api_name="/touch_up"),
             lambda: touched_up(photo, keep, remove)),
        Case("enhance_resolution", f"{side}×{side} ×4",
             lambda c, _: c.predict(handle_file(str(small)), 4, api_name="/enhance_resolution"),
             lambda: superres.upscale(load_image(small).image, 4)),
        Case("superimpose", f"{pixels} on a colour",
             lambda c, _: c.predict(handle_file(str(photo)), None, "color", api_name="/superimpose"),
             lambda: compose(load_image(photo).image, (255, 255, 255), background_mode="color")),
    ]


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def measured(work: Callable[[], object], server: psutil.Process | None) -> tuple[float, float]:
    """Wall and CPU seconds of one call: this process's CPU, plus the server's when it does the work."""
    own, theirs = time.process_time(), cpu_seconds(server) if server else 0.0
    wall = timings(work, 1)[0]
    return wall, time.process_time() - own + (cpu_seconds(server) - theirs if server else 0.0)


def rembg_png_seconds(photo: Path, repeats: int) -> float:
    """rembg in-process: the JPEG's bytes into PNG bytes, its session reused (the anchor of issue 15)."""
    import rembg

    models.point_rembg_at_store()
    session = rembg.new_session("u2net")
    data = photo.read_bytes()
    rembg.remove(data, session=session)
    return statistics.median(timings(lambda: rembg.remove(data, session=session), repeats))


def overhead_table(client: Client, http: httpx.Client, server: psutil.Process, sizes: tuple[int, ...],
                   repeats: int, folder: Path) -> None:
    print("| endpoint | photo | API s | pipeline s | overhead s | goal | API CPU s | pipeline CPU s |")
    print("|---|---|---|---|---|---|---|---|")
    api_cutout: dict[int, float] = {}
    for megapixels in sizes:
        for case in cases(megapixels, folder):
            case.api(client, http), case.direct()  # warm: sessions loaded, shapes compiled, on both sides
            rounds = [(measured(lambda c=case: c.api(client, http), server), measured(case.direct, None))
                      for _ in range(repeats)]
            api, direct = (statistics.median(r[i][0] for r in rounds) for i in (0, 1))
            api_cpu, direct_cpu = (statistics.median(r[i][1] for r in rounds) for i in (0, 1))
            goal = OVERHEAD_GOALS[megapixels]
            verdict = "met" if api - direct <= goal else "NOT met"
            print(f"| {case.endpoint} | {megapixels} MP: {case.size} | {api:.2f} | {direct:.2f} | "
                  f"{api - direct:+.2f} | ≤ {goal} ({verdict}) | {api_cpu:.2f} | {direct_cpu:.2f} |", flush=True)
            if case.endpoint == "remove_background":
                api_cutout[megapixels] = api
    print()
    for megapixels, api in api_cutout.items():
        rembg_s = rembg_png_seconds(folder / f"photo-{megapixels}mp.jpg", repeats)
        print(f"{megapixels} MP cut-out: through the API {api:.2f} s (u2net, default options, PNG + mask + "
              f"previews, downloaded); rembg.remove JPEG → PNG in-process {rembg_s:.2f} s: the API takes "
              f"{api / rembg_s:.2f}× rembg's time.")
    print()


def default_client_cost(url: str, case: Case, client: Client, http: httpx.Client, repeats: int) -> str:
    """What ``gradio_client``'s default (a TLS context made for every request) adds to a call."""
    default = Client(url, verbose=False)
    case.api(default, http)
    rounds = [(timings(lambda: case.api(default, http), 1)[0], timings(lambda: case.api(client, http), 1)[0])
              for _ in range(repeats)]
    plain, reused = (statistics.median(r[i] for r in rounds) for i in (0, 1))
    return (f"gradio_client's default client (a new TLS context per request) on {case.endpoint} at 1 MP: "
            f"{plain:.2f} s a call against {reused:.2f} s with the context reused (+{plain - reused:.2f} s, the "
            f"client's own cost, left out of the table above).")


def main() -> int:
    quick = sys.argv[1:2] == ["--quick"]
    repeats = QUICK_REPEATS if quick else REPEATS
    process, url, cold_start = launch_app()
    try:
        client = Client(url, verbose=False, ssl_verify=ssl.create_default_context())  # type: ignore[arg-type]
        server = psutil.Process(process.pid)

        def first_cutout() -> None:
            client.predict(handle_file(str(SAMPLE)), api_name="/remove_background")

        first = timings(first_cutout, 1)[0]
        warm = statistics.median(timings(first_cutout, repeats))
        print("| measure (u2net, default options, 512×512 photo) | seconds | ratio |")
        print("|---|---|---|")
        print(f"| cold start: `python app.py` to first served page | {cold_start:.1f} | |")
        print(f"| first remove_background request (loads the model) | {first:.2f} | {first / warm:.1f}× warm |")
        print(f"| warm remove_background request through the API | {warm:.3f} | |")
        empty = statistics.median(timings(lambda: client.predict(api_name="/models"), repeats))
        print(f"| an empty call (`/models`: no upload, no file): the protocol's floor | {empty:.3f} | |\n")
        with tempfile.TemporaryDirectory() as folder, httpx.Client(base_url=url, timeout=120) as http:
            overhead_table(client, http, server, (1,) if quick else MEGAPIXELS, repeats, Path(folder))
            enhance = next(case for case in cases(1, Path(folder)) if case.endpoint == "enhance_resolution")
            print(default_client_cost(url, enhance, client, http, repeats))
    finally:
        stop(process)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
