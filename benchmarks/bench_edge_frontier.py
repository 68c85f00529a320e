"""Hard against soft edges: what hardening the refined alpha does to the binary sets and to soft truth.

    python -m benchmarks.bench_edge_frontier    # u2net, every pair of both sets (about 8 minutes on 2 cores)

The evaluation sets' binary masks reward a hard alpha; soft truth (benchmarks/bench_softedge.py) rewards an
alpha as soft as the photo's edge. This measures the trade-off between the two. The network's mask is taken at the
default precision (``"auto"``: INT8) and at ``"exact"`` (f32, rembg's own). Each is refined (``refine_mask``),
then contrast-stretched around 50 % by a factor k, where k = 1 is the app's alpha and larger k is harder. For each
setting the table gives the binary sets' IoU and MAE, and the alpha SAD on the soft-truth cases as a ratio to plain
``rembg.remove``'s with the same model file.

The reference row gives the figures the edge refinement had when issue 13 was filed (then the contrast stretch
of the ``"fast"`` precision's mask). Issue 13 asks for IoU and MAE no worse than those, with the SAD ratio at most 1.
"""

from __future__ import annotations

import argparse

import numpy as np
import rembg
from rembg.sessions.base import BaseSession

from benchmarks.bench_background import eval_pairs, iou_mae
from benchmarks.bench_softedge import EVAL_SETS, soft_cases
from pipeline import models
from pipeline.background import model_mask, refine_mask

MODEL = "u2net"
PRECISIONS = ("auto", "exact")
STRETCHES = (1.0, 1.25, 1.5, 2.0, 3.0)
# IoU and MAE of the edge refinement when issue 13 was filed (docs/BENCHMARKS.md of then), per set.
FILING_FIGURES = {"davis-dev": (0.7305, 0.0330), "grabcut": (0.8513, 0.0429)}


def stretched(alpha: np.ndarray, factor: float) -> np.ndarray:
    """``alpha`` (uint8) contrast-stretched around 50 % by ``factor``."""
    return np.clip(np.rint(127.5 + factor * (alpha.astype(np.float32) - 127.5)), 0, 255).astype(np.uint8)


def binary_scores(eval_set: str, precision: str) -> dict[float, tuple[float, float]]:
    """Mean IoU and MAE over the set's pairs, per stretch factor."""
    scores: dict[float, list[tuple[float, float]]] = {factor: [] for factor in STRETCHES}
    for _, photo, truth in eval_pairs(eval_set):
        refined = refine_mask(photo, model_mask(photo, model=MODEL, precision=precision))
        for factor in STRETCHES:
            scores[factor].append(iou_mae(stretched(refined, factor), truth))
    return {factor: tuple(np.mean(values, axis=0)) for factor, values in scores.items()}


def soft_sad_ratios(eval_set: str, session: BaseSession) -> dict[tuple[str, float], float]:
    """Mean alpha SAD on the set's soft cases ÷ plain rembg's, per precision and stretch factor."""
    sads: dict[tuple[str, float], list[float]] = {(p, f): [] for p in PRECISIONS for f in STRETCHES}
    rembg_sads = []
    for case in soft_cases(eval_set):
        theirs = np.asarray(rembg.remove(case.photo, session=session).getchannel("A"), np.float32) / 255
        rembg_sads.append(float(np.abs(theirs - case.alpha).sum()))
        for precision in PRECISIONS:
            refined = refine_mask(case.photo, model_mask(case.photo, model=MODEL, precision=precision))
            for factor in STRETCHES:
                alpha = stretched(refined, factor).astype(np.float32) / 255
                sads[precision, factor].append(float(np.abs(alpha - case.alpha).sum()))
    return {key: float(np.mean(values) / np.mean(rembg_sads)) for key, values in sads.items()}


def main() -> None:
    argparse.ArgumentParser(prog="python -m benchmarks.bench_edge_frontier",
                            description=__doc__.split("\n")[0]).parse_args()
    models.ensure_model(MODEL)
    session = rembg.new_session(MODEL)
    results = {s: ({p: binary_scores(s, p) for p in PRECISIONS}, soft_sad_ratios(s, session)) for s in EVAL_SETS}
    print(f"### Hardening the refined alpha ({MODEL})\n")
    header = " | ".join(f"{s} IoU | {s} MAE | {s} soft SAD ÷ rembg" for s in EVAL_SETS)
    print(f"| network precision | stretch k | {header} |")
    print("|---|---|" + "---|" * 3 * len(EVAL_SETS))
    for precision in PRECISIONS:
        for factor in STRETCHES:
            cells = []
            for eval_set in EVAL_SETS:
                binary, ratios = results[eval_set]
                iou, mae = binary[precision][factor]
                cells.append(f"{iou:.4f} | {mae:.4f} | {ratios[precision, factor]:.3f}")
            print(f"| {precision} | {factor:g} | {' | '.join(cells)} |")
    reference = " | ".join(f"{FILING_FIGURES[s][0]:.4f} | {FILING_FIGURES[s][1]:.4f} | ≤ 1" for s in EVAL_SETS)
    print(f"| issue 13's bars | | {reference} |")
    print("\nk = 1 is the app's alpha. IoU at 128 and MAE against the binary masks (GrabCut's unknown band ignored); "
          "soft SAD on benchmarks/bench_softedge.py's cases.\n")


if __name__ == "__main__":
    main()
