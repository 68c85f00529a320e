"""Command line over the same pipeline as the app.

    python -m pipeline cutout PHOTOS_OR_FOLDERS... -o cutouts.zip [--model u2net] [--background IMAGE | --color #RRGGBB]

(Models: ``python -m pipeline.models list`` / ``fetch``.)
"""

from __future__ import annotations

import argparse
import sys

from PIL import ImageColor
from tqdm import tqdm

from pipeline.batch import batch_cutouts, photos_in
from pipeline.errors import PipelineError
from pipeline.intake import load_image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description="Backdrop Studio from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    cutout = commands.add_parser("cutout", help="cut out every photo (files or folders) into a ZIP of PNGs")
    cutout.add_argument("photos", nargs="+", help="image files, or folders whose image files are all taken")
    cutout.add_argument("-o", "--output", required=True, help="the ZIP file to write")
    cutout.add_argument("--model", default="u2net", help="rembg session (default u2net; u2netp is faster)")
    cutout.add_argument("--precision", choices=("auto", "fast", "exact"), default="auto",
                        help="auto (default): fast where it keeps the model's quality; fast: OpenVINO's CPU default "
                             "precision (bf16 where the CPU has it); exact: f32, as rembg computes it")
    backdrop = cutout.add_mutually_exclusive_group()
    backdrop.add_argument("--background", help="also composite each cut-out onto this image")
    backdrop.add_argument("--color", help="also composite each cut-out onto this colour (e.g. #ffffff)")
    args = parser.parse_args(argv)

    photos = photos_in(args.photos)
    if not photos:
        print("No image files found in the given paths.", file=sys.stderr)
        return 2
    try:
        background = (load_image(args.background).image if args.background
                      else ImageColor.getrgb(args.color)[:3] if args.color else None)
    except (PipelineError, ValueError) as error:
        print(f"Background: {getattr(error, 'message', error)}", file=sys.stderr)
        return 2

    with tqdm(total=len(photos), unit="photo") as bar:
        def advance(fraction: float, message: str) -> None:
            bar.set_description(message)
            bar.n = round(fraction * len(photos))
            bar.refresh()

        report = batch_cutouts(photos, args.output, model=args.model, precision=args.precision,
                               background=background, progress=advance)
    print(report.summary())
    print(f"Wrote {report.archive}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
