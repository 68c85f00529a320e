"""What a cut-out's options are, without loading anything: default models, precisions, edge-colour modes.

Kept apart from :mod:`pipeline.background` (which imports rembg, and with it pymatting and numba: ~2 s) so that
what only names options starts at once: the command line's arguments, and a catalogue job's driver on Ray, whose
actors do the cutting (their start waited for the driver's imports: ~1.7 s of its first result).
"""

from __future__ import annotations

from typing import Literal, get_args

from pipeline import quantize

Precision = Literal["auto", "fast", "exact", "int8"]
ResolvedPrecision = Literal["fast", "exact", "int8"]
Decontaminate = Literal["fast", "rembg", "off"]
DECONTAMINATE_MODES: tuple[Decontaminate, ...] = get_args(Decontaminate)

DEFAULT_MODEL = "u2net"
FAST_MODEL = "u2netp"

# Models whose "fast" precision keeps quality on ../shared/eval (mean IoU and MAE within 0.005 of "exact").
# u2net: IoU −0.0002 / −0.0004, MAE −0.0001 / −0.0002 (DAVIS-dev / GrabCut). u2netp is not among them: bf16
# costs it 0.009 IoU on DAVIS-dev. Models not measured stay at "exact" by default.
FAST_KEEPS_QUALITY = frozenset({"u2net"})
# Models whose INT8 network (pipeline.quantize's recipe) keeps quality on ../shared/eval, by the same bound, as
# benchmarks.bench_quality measures it: u2net IoU +0.0022 / −0.0024, MAE −0.0001 / +0.0001 (DAVIS-dev / GrabCut,
# every pair, with the quick processing), its network about 1.7× faster than bf16.
INT8_KEEPS_QUALITY = frozenset({"u2net"})


def resolve_precision(model: str, precision: Precision = "auto") -> ResolvedPrecision:
    """The precision a request runs at.

    ``"auto"`` is ``"int8"`` where that keeps the model's quality and its INT8 network is built, else ``"fast"``
    where that keeps it, else ``"exact"``: a request never waits for a build.
    """
    if precision == "auto":
        if model in INT8_KEEPS_QUALITY and quantize.int8_path(model) is not None:
            return "int8"
        return "fast" if model in FAST_KEEPS_QUALITY else "exact"
    if precision not in ("fast", "exact", "int8"):
        raise ValueError(f"precision must be 'auto', 'fast', 'exact' or 'int8', not {precision!r}")
    return precision
