"""Run every benchmark and write docs/BENCHMARKS.md.

    python -m benchmarks                    # all of them, full size (about 15 minutes on 2 cores)
    python -m benchmarks app superres       # only some (names: the modules' suffixes); prints, writes nothing
    python -m benchmarks --quick            # each one's short variant where it has one; prints, writes nothing

Each benchmark is a module that prints its own tables; this runs them one after another in fresh processes (never
two at once, so they do not share the cores), echoes what they print as they go, and collects it under a
description of the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import openvino
import psutil

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "BENCHMARKS.md"

BENCHMARKS = {
    "background": "Remove background: pipeline vs rembg, refine vs alpha matting",
    "quality": "Quality on ../shared/eval and super-resolution PSNR/SSIM",
    "softedge": "Soft edges: alpha and edge colour against soft truth, decontamination time",
    "edge_frontier": "Hard against soft edges: hardening the refined alpha, binary masks vs soft truth",
    "superres": "Enhance resolution: seconds per output megapixel, peak memory",
    "touchup": "Touch-up with keep/remove strokes",
    "app": "The launched app: cold start, first vs warm request, API overhead",
    "load": "Load test: concurrent clients on every tab",
    "rembg_server": "rembg's HTTP API: the same requests to python app.py and to rembg s",
    "batch": "Catalogue job: rembg p vs our job, locally and on a two-node Ray cluster",
}
MODULES = {name: f"benchmarks.bench_{name}" for name in BENCHMARKS} | {"load": "benchmarks.load_test"}
# Modules that take --quick.
QUICK_VARIANTS = {"background", "quality", "softedge", "superres", "app", "load", "rembg_server", "batch"}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() \
        else platform.processor()
    return (f"{cpu}, {psutil.cpu_count()} logical cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"OpenVINO {openvino.__version__.split('-')[0]}")


def run_module(module: str, quick: bool) -> tuple[str, int]:
    """Run ``python -m module`` (with ``--quick``), echoing its output line by line; return the output and exit code."""
    command = [sys.executable, "-m", module, *(["--quick"] if quick else [])]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        lines = []
        for line in process.stdout:  # type: ignore[union-attr]
            print(line, end="", flush=True)
            lines.append(line)
    return "".join(lines), process.returncode


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="name", help=f"some of: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help=f"short variants of {', '.join(sorted(QUICK_VARIANTS))}; do not write the report")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    load_before = os.getloadavg()[0]
    sections = []
    failed = 0
    for name in args.names or list(BENCHMARKS):
        print(f"== {name}: {BENCHMARKS[name]}", flush=True)
        started = time.monotonic()
        quick = args.quick and name in QUICK_VARIANTS
        output, code = run_module(MODULES[name], quick)
        failed += code != 0
        status = "" if code == 0 else f" (exited with {code})"
        sections.append(f"## {BENCHMARKS[name]}\n\n`python -m {MODULES[name]}{' --quick' if quick else ''}`, "
                        f"{time.monotonic() - started:.0f} s{status}\n\n{output.strip()}\n")
    if args.quick or args.names:  # the report is always one whole full-size run
        return 1 if failed else 0
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(f"# Benchmarks\n\nWritten by `python -m benchmarks` on {time.strftime('%Y-%m-%d')}.\n\n"
                      f"Machine: {machine()}. Load average when the run began: {load_before:.1f}.\n\n"
                      "Every speed figure is compared with a baseline measured in the same run, on the same machine. "
                      "Each section names the command that reproduces it.\n\n" + "\n".join(sections))
    print(f"wrote {REPORT}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
