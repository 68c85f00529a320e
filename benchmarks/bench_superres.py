"""Enhance resolution: seconds per output megapixel, model only vs end to end, f32 vs OpenVINO's default precision,
and peak memory for a 16 MP result.

    python -m benchmarks.bench_superres            # every table
    python -m benchmarks.bench_superres --quick    # only seconds per MP by scale

"Model only" runs the bare network (float NCHW tensors, set once) over as many tiles of the same shape as
``upscale()`` would, with as many in flight on the same throughput streams (both cores); "end to end" is
``upscale()`` itself (reflect padding, bicubic guides, tile feeding, the uint8 conversions compiled into its
network, pasting results, alpha, the ×2 shrink). Compilation is warmed up first. Peak memory is measured in a fresh
subprocess per case (``VmHWM``), against the process's RSS just before the call.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time

import numpy as np
import openvino as ov
import psutil
import skimage.data
from PIL import Image

from benchmarks.harness import best_of
from pipeline import superres
from pipeline.intake import encode_image
from pipeline.models import ensure_model, openvino_core

PRECISIONS: tuple[superres.Precision, ...] = ("exact", "fast")
PRECISION_NAMES = {"exact": "f32 (exact)", "fast": "default (fast)"}


def photo(width: int, height: int, alpha: bool = False) -> Image.Image:
    image = Image.fromarray(skimage.data.hubble_deep_field()).resize((width, height), Image.Resampling.BICUBIC)
    if alpha:  # a soft-edged disc, as a cut-out would have
        y, x = np.mgrid[0:height, 0:width]
        radius = np.hypot(x - width / 2, y - height / 2) / (min(width, height) / 2.5)
        image.putalpha(Image.fromarray(np.clip((1.1 - radius) * 255 * 5, 0, 255).astype(np.uint8)))
    return image


def model_only_seconds(image: Image.Image, scale: int, precision: superres.Precision,
                       tile_size: int = superres.DEFAULT_TILE_SIZE) -> tuple[float, float]:
    """Seconds for the bare network (float NCHW in and out, no conversions) over ``upscale()``'s tiles, with as many
    tiles in flight, and the tiles' output pixels per result pixel."""
    network = superres._NETWORKS[scale]
    factor = network.factor
    tiles = list(itertools.product(superres._spans(image.height, tile_size), superres._spans(image.width, tile_size)))
    shape = (tiles[0][0].window_stop - tiles[0][0].window_start, tiles[0][1].window_stop - tiles[0][1].window_start)
    bare = openvino_core().read_model(ensure_model(network.model))
    bare.reshape({"0": [1, 3, *shape], "1": [1, 3, shape[0] * factor, shape[1] * factor]})
    compiled = openvino_core().compile_model(bare, "CPU", superres.compile_config(precision))
    rng = np.random.default_rng(0)
    low = rng.uniform(0, 255, (1, 3, *shape)).astype(np.float32)
    guide = rng.uniform(0, 255, (1, 3, shape[0] * factor, shape[1] * factor)).astype(np.float32)
    queue = ov.AsyncInferQueue(compiled, superres.requests_in_flight(compiled))
    for request in queue:  # inputs in place once: nothing but inference is timed
        request.set_tensor("0", ov.Tensor(low))
        request.set_tensor("1", ov.Tensor(guide))

    def run() -> None:
        for _ in tiles:
            queue.start_async()
        queue.wait_all()

    run()  # first inference allocates the requests' buffers
    seconds = best_of(3, run)
    return seconds, len(tiles) * shape[0] * shape[1] * factor**2 / (image.width * image.height * scale**2)


def speed_table() -> None:
    image = photo(1000, 1000)  # ×4: a 16 MP result
    out_mp = image.width * image.height * 16 / 1e6
    bicubic = best_of(2, lambda: image.resize((4000, 4000), Image.Resampling.BICUBIC)) / out_mp
    print(f"### ×4, {image.width}×{image.height} → 4000×4000 ({out_mp:.0f} MP), tiles of "
          f"{superres.DEFAULT_TILE_SIZE} px\n")
    print("| precision | model only (s per tile MP) | model only (s/MP) | end to end (s/MP) | end to end ÷ model only "
          "| vs Pillow bicubic |")
    print("|---|---|---|---|---|---|")
    results = {}
    for precision in PRECISIONS:
        model, overlap = model_only_seconds(image, 4, precision)
        end_to_end = best_of(3, lambda p=precision: superres.upscale(image, 4, precision=p), warm_up=True)
        results[precision] = end_to_end
        print(f"| {PRECISION_NAMES[precision]} | {model / out_mp / overlap:.3f} | {model / out_mp:.3f} | "
              f"{end_to_end / out_mp:.3f} | "
              f"{end_to_end / model:.2f}× | {end_to_end / out_mp / bicubic:.0f}× slower |")
    print(f"\nPillow bicubic ×4: {bicubic:.4f} s/MP. Tiles compute {overlap:.2f}× the result's pixels "
          f"(16 px of context on each inner side). Default precision is {results['exact'] / results['fast']:.2f}× "
          f"faster than f32 end to end. On this CPU the default is "
          f"{ov.Core().get_property('CPU', 'INFERENCE_PRECISION_HINT').get_type_name()}.\n")

    result = superres.upscale(image, 4)
    sizes = {}
    for level in (1, 6):
        started = time.perf_counter()
        sizes[level] = len(encode_image(result, "png", png_compress_level=level)) / 1e6, time.perf_counter() - started
    print(f"Encoding the 16 MP result as PNG: compression level 1 (the app's) {sizes[1][1]:.1f} s, "
          f"{sizes[1][0]:.1f} MB; level 6 (the default) {sizes[6][1]:.1f} s, {sizes[6][0]:.1f} MB.\n")


def scales_table() -> None:
    print("### End to end by scale (≈4 MP results)\n")
    print("| scale | input | " + " | ".join(f"{PRECISION_NAMES[p]} s/MP" for p in PRECISIONS) + " |")
    print("|---|---|---|---|")
    for scale in (4, 3, 2):
        side = 2000 // scale
        image = photo(side, side)
        out_mp = (side * scale) ** 2 / 1e6
        cells = []
        for precision in PRECISIONS:
            seconds = best_of(2, lambda s=scale, p=precision, i=image: superres.upscale(i, s, precision=p),
                              warm_up=True)
            cells.append(f"{seconds / out_mp:.3f}")
        print(f"| ×{scale} | {side}×{side} | " + " | ".join(cells) + " |")
    print("\n×2 runs the ×4 network and halves its result, so it costs about 4× per output MP.\n")


def tile_table() -> None:
    image = photo(1000, 1000)
    out_mp = 16.0
    print("### Tile size (×4, 16 MP result, default precision, end to end)\n")
    print("| tile (low-res px) | s/MP | tile pixels per result pixel |")
    print("|---|---|---|")
    for tile_size in (128, 192, 256, 384):
        seconds = best_of(2, lambda t=tile_size: superres.upscale(image, 4, tile_size=t), warm_up=True)
        _, overlap = model_only_seconds(image, 4, "fast", tile_size)
        print(f"| {tile_size} | {seconds / out_mp:.3f} | {overlap:.2f} |")
    print("\nLarger tiles spend less on context, but each compiled tile shape holds more memory (~150 MB at 256 px, "
          "growing with its area).\n")


MEMORY_CASES = [  # (scale, precision, alpha, input side)
    (4, "fast", False, 1000),
    (4, "exact", False, 1000),
    (4, "fast", True, 1000),
    (3, "fast", False, 1333),
    (2, "fast", False, 2000),
]


def peak_rss_mb() -> float:
    """The process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def measure_peak(scale: int, precision: superres.Precision, alpha: bool, side: int) -> dict[str, float]:
    """Runs in the subprocess: RSS before the call and the process's peak RSS, in MB."""
    image = photo(side, side, alpha)
    before = psutil.Process().memory_info().rss / 2**20
    started = time.perf_counter()
    result = superres.upscale(image, scale, precision=precision)
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    return {"before": before, "peak": peak, "seconds": seconds, "width": result.width, "height": result.height,
            "channels": len(result.getbands())}


def memory_table() -> None:
    print("### Peak memory (fresh process per case, cold start included)\n")
    print("| case | result | RSS before (MB) | peak RSS (MB) | peak − before (MB) | result itself (MB) | "
          "one float32 copy (MB) | s |")
    print("|---|---|---|---|---|---|---|---|")
    for scale, precision, alpha, side in MEMORY_CASES:
        run = subprocess.run([sys.executable, "-m", "benchmarks.bench_superres", "--peak",
                              json.dumps([scale, precision, alpha, side])], capture_output=True, text=True, check=True)
        figures = json.loads(run.stdout.strip().splitlines()[-1])
        pixels = figures["width"] * figures["height"]
        result_mb = pixels * figures["channels"] / 2**20
        print(f"| ×{scale} {PRECISION_NAMES[precision]}{' RGBA' if alpha else ''}, {side}×{side} in | "
              f"{figures['width']}×{figures['height']} ({pixels / 1e6:.0f} MP) | {figures['before']:.0f} | "
              f"{figures['peak']:.0f} | {figures['peak'] - figures['before']:.0f} | {result_mb:.0f} | "
              f"{pixels * 3 * 4 / 2**20:.0f} | {figures['seconds']:.1f} |")
    print("\nThe peak includes the compiled network and its two in-flight tiles (~150–250 MB); results are written "
          "as 8-bit pixels as tiles finish, never held as full-size float arrays.\n")


def main() -> None:
    if sys.argv[1:2] == ["--peak"]:
        print(json.dumps(measure_peak(*json.loads(sys.argv[2]))))
        return
    if sys.argv[1:2] == ["--quick"]:  # only the by-scale table (≈4 MP results)
        scales_table()
        return
    speed_table()
    scales_table()
    tile_table()
    memory_table()


if __name__ == "__main__":
    main()
