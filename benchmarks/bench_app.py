"""The launched app: cold start to first served page, first request vs warm request, API vs the pipeline.

    python -m benchmarks.bench_app            # median of 5 warm requests
    python -m benchmarks.bench_app --quick    # median of 2

The API overhead is the time of a ``gradio_client`` call minus the same pipeline call made directly in this
process, both measured in this run on the same photo.
"""

from __future__ import annotations

import statistics
import sys

from gradio_client import Client, handle_file

from benchmarks.harness import ROOT, launch_app, stop, timings
from pipeline.background import remove_background
from pipeline.intake import load_image

PHOTO = ROOT / "assets" / "samples" / "astronaut.jpg"
REPEATS = 5
QUICK_REPEATS = 2


def main() -> int:
    repeats = QUICK_REPEATS if sys.argv[1:2] == ["--quick"] else REPEATS
    process, url, cold_start = launch_app()
    try:
        client = Client(url, verbose=False)

        def via_api() -> None:
            client.predict(handle_file(str(PHOTO)), api_name="/remove_background")

        first = timings(via_api, 1)[0]
        warm_api = statistics.median(timings(via_api, repeats))
    finally:
        stop(process)

    image = load_image(PHOTO).image
    remove_background(image)  # load the session, as the app's first request did
    direct = statistics.median(timings(lambda: remove_background(image), repeats))

    print("| measure (u2net, default options, 512×512 photo) | seconds | ratio |")
    print("|---|---|---|")
    print(f"| cold start: `python app.py` to first served page | {cold_start:.1f} | |")
    print(f"| first remove_background request (loads the model) | {first:.2f} | {first / warm_api:.1f}× warm |")
    print(f"| warm remove_background request through the API | {warm_api:.3f} | {warm_api / direct:.2f}× pipeline |")
    print(f"| the same pipeline call in-process | {direct:.3f} | 1.00 |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
