"""Command line over the same pipeline as the app.

    python -m pipeline cutout PHOTOS_FOLDERS_OR_URLS... -o DEST [--model u2net] [--color #RRGGBB | --background IMAGE]
                       [--no-refine] [--decontaminate fast|rembg|off] [--alpha-matting ...] [--ray auto|local|HOST:PORT]

DEST is a folder or URL (mirroring the sources' layout, with manifest.jsonl) or a .zip; a rerun skips what is done
(see pipeline.catalogue). Models: ``python -m pipeline.models list`` / ``fetch``.
"""

from __future__ import annotations

import argparse
import sys
import time

from PIL import ImageColor
from tqdm import tqdm

from pipeline.catalogue import CutoutSettings, is_url, run_catalogue
from pipeline.errors import PipelineError
from pipeline.intake import load_image
from pipeline.options import DECONTAMINATE_MODES, DEFAULT_MODEL


def _cutout_parser(commands: argparse._SubParsersAction) -> None:
    cutout = commands.add_parser(
        "cutout", help="cut out every photo (files, folders searched recursively, fsspec URLs) into a folder or ZIP",
        description="Cut out every photo into DEST, mirroring the sources' layout, with a manifest.jsonl; a rerun "
                    "skips the photos already done with the same settings.")
    cutout.add_argument("photos", nargs="+", help="image files, folders (searched recursively) or fsspec URLs")
    cutout.add_argument("-o", "--output", required=True,
                        help="a folder or fsspec URL (one <relative path>.png per photo), or a .zip file")
    cutout.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME",
                        help="rembg session (default u2net; u2netp is faster; `python -m pipeline.models list` "
                             "lists them)")
    cutout.add_argument("--precision", choices=("auto", "fast", "exact", "int8"), default="auto",
                        help="auto (default): the fastest that keeps the model's quality; fast: OpenVINO's CPU "
                             "default (bf16 where the CPU has it); exact: f32, as rembg computes it; int8: NNCF")
    edges = cutout.add_argument_group("edges (as on the Remove background tab)")
    edges.add_argument("--no-refine", dest="refine_edges", action="store_false",
                       help="keep the network's mask (no guided-filter edge refinement)")
    edges.add_argument("--decontaminate", choices=DECONTAMINATE_MODES, default="fast",
                       help="the colour kept under soft edges: fast (default), rembg's, or off (the photo's)")
    edges.add_argument("--alpha-matting", action="store_true", help="rembg's alpha matting (slow on large photos)")
    edges.add_argument("--alpha-matting-foreground-threshold", type=int, default=240, metavar="0-255")
    edges.add_argument("--alpha-matting-background-threshold", type=int, default=10, metavar="0-255")
    edges.add_argument("--alpha-matting-erode-size", type=int, default=10, metavar="PIXELS")
    edges.add_argument("--post-process-mask", action="store_true", help="rembg's mask smoothing (a hard edge)")
    edges.add_argument("--vitmatte", action="store_true", help="rembg's ViTMatte refinement of the mask")
    edges.add_argument("--only-mask", action="store_true", help="write the mask instead of the cut-out")
    edges.add_argument("--fill", metavar="#RRGGBB[AA]", help="fill the cut-out's background with this colour")
    backdrop = cutout.add_mutually_exclusive_group()
    backdrop.add_argument("--background", help="also composite each cut-out onto this image (file or URL)")
    backdrop.add_argument("--color", help="also composite each cut-out onto this colour (e.g. #ffffff)")
    cutout.add_argument("--ray", metavar="ADDRESS",
                        help="run on Ray: auto (this machine's cluster), local (start one here) or HOST:PORT")
    cutout.add_argument("--cpus-per-actor", type=int, default=1,
                        help="with --ray: CPUs (and OpenVINO threads) per actor (default 1)")


def _settings(args: argparse.Namespace) -> CutoutSettings:
    """The job's settings from the arguments; PipelineError or ValueError for a bad backdrop or colour."""
    backdrop_image = None
    if args.background:
        if is_url(args.background):
            from pipeline.catalogue import _filesystem

            fs, path = _filesystem(args.background)
            backdrop_image = fs.cat_file(path)
        else:
            with open(args.background, "rb") as file:
                backdrop_image = file.read()
        load_image(backdrop_image)  # a bad backdrop is said now, not once per photo
    fill = None
    if args.fill:
        fill = ImageColor.getcolor(args.fill, "RGBA")
    return CutoutSettings(
        model=args.model, precision=args.precision, refine_edges=args.refine_edges, alpha_matting=args.alpha_matting,
        alpha_matting_foreground_threshold=args.alpha_matting_foreground_threshold,
        alpha_matting_background_threshold=args.alpha_matting_background_threshold,
        alpha_matting_erode_size=args.alpha_matting_erode_size, post_process_mask=args.post_process_mask,
        only_mask=args.only_mask, bgcolor=fill, decontaminate=args.decontaminate, vitmatte=args.vitmatte,
        backdrop_colour=ImageColor.getrgb(args.color)[:3] if args.color else None, backdrop_image=backdrop_image)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description="Backdrop Studio from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    _cutout_parser(commands)
    args = parser.parse_args(argv)

    try:
        settings = _settings(args)
    except PipelineError as error:
        print(f"Background: {error.message}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:
        print(f"Background or colour: {error}", file=sys.stderr)
        return 2

    bar = tqdm(unit="photo", dynamic_ncols=True)
    started = time.perf_counter()

    def advance(finished: int, total: int) -> None:
        if bar.total != total:
            bar.total, bar.n = total, finished  # the photos done by an earlier run count from the start
            bar.initial = finished
        bar.update(finished - bar.n)
        done = finished - bar.initial
        bar.set_postfix_str(f"{done / max(time.perf_counter() - started, 1e-9):.2f} photos/s", refresh=False)

    try:
        report = run_catalogue(args.photos, args.output, settings, ray_address=args.ray,
                               cpus_per_actor=args.cpus_per_actor, progress=advance)
    except PipelineError as error:  # e.g. a model that cannot be used: said once, for the whole job
        tqdm.write(error.message, file=sys.stderr)
        return 2
    finally:
        bar.close()
    if not report.total:
        print("No image files found in the given paths.", file=sys.stderr)
        return 2
    print(report.summary())
    if report.details.get("actors"):
        details = report.details
        print(f"Ray: {details['nodes']} nodes ({details['nodes_used']} did work), {details['cpus']} CPUs, "
              f"up to {details['actors']} actors; "
              f"peak memory per actor {details['actor_peak_rss_mb']} MB.")
    print(f"Wrote {report.destination}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
