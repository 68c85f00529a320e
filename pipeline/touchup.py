"""Touch-up: correct a cut-out with a few "keep" and "remove" brush strokes, offline, in seconds.

The network's soft mask is the prior, the strokes are hard constraints, and OpenCV's GrabCut re-segments:

1. **Labels.** Stroked pixels are definite foreground (keep) or background (remove); every other pixel is
   probable foreground or background by the prior at 128. Where the prior is confident (≤ 10 or ≥ 245) and
   farther than ``reach`` from every stroke, the label is definite: the network's sure answer stands there, but
   not in what of a blob a remove stroke is plainly on as a whole (below), which GrabCut may overturn.
   The prior's subject around a remove stroke, as far out as the stroke is wide and nearer it than any keep
   stroke, starts as probable background (otherwise the region the stroke is on trains GrabCut's model of the
   subject, which then keeps it). A blob of the prior is made probable background as a whole only when the remove
   stroke is plainly on that object as a whole: a keep stroke shows the subject is elsewhere (there is one, and
   none within 10 % of the diagonal of the blob) and the remove stroke reaches the blob's core (its deepest
   stroked pixel is at least half as deep as the blob's deepest, depth = distance to the blob's border), and
   the painted pixels have the colours of the rest of the blob rather than of the background around it. A stroke
   on a sliver, halo or limb of the subject's blob is shallow by that measure, so
   such a blob is only cut where GrabCut separates it; a stroke in a hole the network filled (scissors' handles
   around orange backdrop) is deep but painted on the backdrop's colours, so the hole goes and the handles stay
   (with depth alone the handles went: −0.30 IoU with a careless stroke, on a prior of another INT8 build). When
   a keep stroke is beside such a blob (the network kept a wall with the girl in front of it, two people as one),
   only the blob's far side from the keep stroke goes to probable background: nearer the remove stroke along
   paths inside the blob, and of colours likelier among its painted pixels (:func:`_far_side`).
   Measured with benchmarks/strokes.py (10 worst masks of DAVIS-dev and of GrabCut, u2net and u2netp, careful and
   careless strokes): the old rule (any touched blob without a keep stroke within 2 % of the diagonal) lost up to
   0.54 IoU on a photo (a doll dropped whole); without the "a keep stroke exists" condition a long careless stroke
   dropped a person (−0.50); that rule lost at most 0.006 on any photo, and never rejecting gave the same except
   −0.15 mean gain on two DAVIS frames where the network kept only a wrong object.
2. **GrabCut** (``cv2.grabCut`` with ``GC_INIT_WITH_MASK``) on the box around what the strokes can change
   (within ``reach`` of a stroke, and a rejected blob; found on the frame scaled to about ``work_pixels``), the
   box itself scaled to about ``work_pixels``; outside the box the prior stands untouched. GrabCut's time follows
   the pixels it cuts, so scaling the box (not the frame) bounds it on any photo and edit, and a small edit on a
   large photo keeps its detail.
3. **Which changes are kept.** GrabCut's answer is trusted only where it carries a stroke's evidence: a region
   it added is kept when it touches a keep stroke, a region it removed when it touches a remove stroke, however
   far that region reaches (a short stroke inside a missed arm brings back the whole arm; one on a wrongly kept
   sign removes the whole sign). Every other pixel keeps the prior, so strokes that agree with the mask change
   nothing. GrabCut's colour models alone are not confidence enough: accepting changes elsewhere where they
   favour the new label by a likelihood ratio above e^10 (or even e^20), on pixels the network was unsure of,
   lowered IoU by up to 0.09 on eval photos given agreeing strokes (a second sheep, flowers, a banner).
4. **Full resolution.** The kept changes are scaled back up and applied to the full-size prior inside the box
   (the faint halo of a removed object goes with it), :func:`pipeline.background.refine_mask` snaps the edges to the
   full-resolution photo, and the stroked pixels are set as painted. The refined result is taken only near the
   changes, and there only the way they went: elsewhere the cut-out is the refined prior, to the level.

Measured (benchmarks/bench_touchup.py and tests/test_touchup.py's simulated user; mean IoU gain over the first
cut-out, careful / careless strokes): u2net DAVIS-dev +0.22 / +0.19, GrabCut +0.23 / +0.24; u2netp
DAVIS-dev +0.20 / +0.27, GrabCut +0.33 / +0.35; no photo loses more than 0.011 (before the stroke-wide start, the
far side and its opening: +0.11 / +0.16, +0.16 / +0.22, +0.20 / +0.27, +0.27 / +0.30). On the 11th to 30th worst
masks, not tuned on, every group gains at least as much as before and no photo loses more than 0.039 (0.054 before).

Speed (CPU seconds of one touch-up with the prior and its refined cut-out given, as the app's Apply; the machine
shared, so ±30 %): GrabCut's max-flow is slow on smooth photos, so ``work_pixels`` is small and the box is scaled,
not the frame. Bundled cat scaled to 1 MP (smooth): about 0.4 s (1 MP of work over the frame took 15 s, 0.15 MP
0.8 s), 12 MP about 1.0 s; scikit-image's retina (detailed) about 0.2 s and 0.6 s. Slower per pixel are some eval
photos scaled up: davis-dev/157 and grabcut/banana3 with careless strokes, 0.8 to 0.95 s at 1 MP, 1.4 to 1.7 s at
12 MP. The same 80 touch-ups of the quality figures, against them: the former 1 MP of work over the frame, 3
iterations, gave +0.11 / +0.16, +0.15 / +0.20, +0.20 / +0.25, +0.23 / +0.30 in 56 CPU s (2.3 s the slowest);
0.08 MP of box, 3 iterations, 0.01 to 0.02 more on the careful groups but 1.1 to 1.3× the time on the slow photos
(1.2 s at 1 MP); 0.06 MP lost 0.04 on u2netp's careful groups. Without the refined cut-out (the HTTP API) the
refinement runs twice: +0.1 s at 1 MP, +0.3 s at 12 MP.

From a script::

    from PIL import Image
    from pipeline.intake import load_image
    from pipeline.touchup import touch_up

    photo = load_image("dog.jpg").image
    cutout = touch_up(photo, keep=Image.open("keep.png"), remove=Image.open("remove.png"))
    cutout.image.save("dog-cutout.png")
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image
from skimage.graph import MCP_Geometric

from pipeline.background import (
    DEFAULT_MODEL,
    Cutout,
    Precision,
    keep_own_transparency,
    model_mask,
    network_photo,
    refine_mask,
    refinement_reach,
    upright,
    with_alpha,
)

StrokeInput = np.ndarray | Image.Image | None

WORK_PIXELS = 80_000
GRABCUT_ITERATIONS = 2
REACH = 0.15
KEEP_MARGIN = 0.1  # of the diagonal: a keep stroke this close to a blob of the prior marks it as the subject
RANDOM_SEED = 0
CORE_DEPTH = 0.5  # a remove stroke this deep into a blob (of the blob's greatest depth) is on the blob as a whole
SURE_BACKGROUND, SURE_FOREGROUND = 10, 245  # prior values GrabCut may not overturn beyond a stroke's reach
_MIN_COLOUR_SAMPLES = 20  # pixels: fewer say nothing of a colour distribution
_GMM_COMPONENTS = 5  # cv2.grabCut's colour models: 5 Gaussians each, 13 numbers per Gaussian (weight, mean, cov.)


def stroke_mask(stroke: StrokeInput, size: tuple[int, int]) -> np.ndarray:
    """A stroke layer as a boolean H×W mask of the painted pixels, at ``size`` (width, height).

    Accepts None (nothing painted), a 2-D array or greyscale image (nonzero = painted), an RGB array or image
    (any nonzero channel = painted), or an RGBA/LA array or image, where the alpha marks the stroke (the
    layers of Gradio's ImageEditor are transparent wherever nothing was painted); an RGBA layer without any
    transparency is read by its colour, like RGB. A layer of another size is stretched to ``size`` (nearest
    neighbour), so strokes painted on a smaller preview of the photo apply to the photo.
    """
    width, height = size
    if stroke is None:
        return np.zeros((height, width), dtype=bool)
    if isinstance(stroke, Image.Image):
        if stroke.has_transparency_data:
            stroke = stroke.convert("RGBA")
        elif stroke.mode not in ("L", "RGB", "1"):
            stroke = stroke.convert("RGB")
    array = np.asarray(stroke)
    if array.ndim == 3 and array.shape[2] in (2, 4):
        alpha, colour = array[..., -1], array[..., :-1]
        painted = (colour != 0).any(axis=2) if alpha.min() == 255 else alpha != 0
    elif array.ndim == 3 and array.shape[2] in (1, 3):
        painted = (array != 0).any(axis=2)
    elif array.ndim == 2:
        painted = array != 0
    else:
        raise ValueError(f"a stroke layer must be H×W, H×W×3 or H×W×4, not shape {array.shape}")
    if painted.shape != (height, width):
        resized = Image.fromarray(painted).resize((width, height), Image.Resampling.NEAREST)
        painted = np.array(resized, dtype=bool)
    return painted


def strokes_by_colour(layers: Sequence[np.ndarray | Image.Image]) -> tuple[np.ndarray, np.ndarray]:
    """Split painted RGBA layers into "keep" (greenish paint) and "remove" (reddish paint) stroke masks.

    For an editor with a green and a red brush on one or more layers: a painted pixel (alpha > 0) whose green
    exceeds its red is "keep", the other way round "remove" (anti-aliased brush edges are classified with the
    stroke they border). Layers are stacked in order, so paint on a later layer covers an earlier one. All
    layers must have the same size.
    """
    arrays = [np.asarray(layer.convert("RGBA") if isinstance(layer, Image.Image) else layer) for layer in layers]
    if not arrays:
        raise ValueError("no editor layer was given")
    keep = np.zeros(arrays[0].shape[:2], dtype=bool)
    remove = np.zeros(arrays[0].shape[:2], dtype=bool)
    for rgba in arrays:
        if rgba.ndim != 3 or rgba.shape[2] != 4:
            raise ValueError(f"an editor layer must be RGBA (H×W×4), not shape {rgba.shape}")
        painted = rgba[..., 3] > 0
        red, green = rgba[..., 0].astype(np.int16), rgba[..., 1].astype(np.int16)
        keep = np.where(painted, green > red, keep)
        remove = np.where(painted, red > green, remove)
    return keep, remove


def touch_up(
    image: Image.Image,
    keep: StrokeInput,
    remove: StrokeInput,
    *,
    prior: np.ndarray | None = None,
    model: str = DEFAULT_MODEL,
    precision: Precision = "auto",
    refine_edges: bool = True,
    refined_prior: np.ndarray | None = None,
    work_pixels: int = WORK_PIXELS,
    iterations: int = GRABCUT_ITERATIONS,
    reach: float = REACH,
) -> Cutout:
    """Re-segment ``image`` so that the "keep" strokes are subject and the "remove" strokes are background.

    Args:
        image: the photo, made upright by its EXIF orientation; transparent areas stay transparent (as in
            :func:`pipeline.background.remove_background`), whatever the strokes say.
        keep: stroke layer painted on what belongs to the subject (see :func:`stroke_mask` for the formats).
        remove: stroke layer painted on what does not. A pixel painted in both layers counts as neither.
        prior: the soft mask being corrected (uint8 H×W, 255 = subject); default ``model_mask(image)``.
        model, precision: the network that makes the default prior.
        refine_edges: run the edge refinement on the result, as the remove-background tab does.
        refined_prior: the mask of the cut-out being corrected, ``refine_mask(image, prior)`` or what the caller
            made of that (computed if not given); with ``refine_edges``, the result is it wherever the strokes
            change nothing.
        work_pixels: GrabCut runs on the box around what the strokes can change, scaled down to about this many
            pixels (never scaled up).
        iterations: GrabCut iterations (each re-fits the colour models and re-cuts).
        reach: how far from a stroke GrabCut may overturn the network's confident pixels, as a fraction of
            the photo's diagonal.

    Returns:
        The cut-out and its mask, full size. Without any stroke the mask is the prior (refined if asked).
    """
    turned = upright(image)
    photo = network_photo(turned)  # what GrabCut sees too
    keep_mask = stroke_mask(keep, photo.size)
    remove_mask = stroke_mask(remove, photo.size)
    conflicting = keep_mask & remove_mask
    keep_mask &= ~conflicting
    remove_mask &= ~conflicting
    if prior is None:
        prior = model_mask(photo, model=model, precision=precision)
    elif prior.shape != (photo.height, photo.width) or prior.dtype != np.uint8:
        raise ValueError(f"prior must be a uint8 array of shape {(photo.height, photo.width)}, "
                         f"not {prior.dtype} {prior.shape}")
    if refined_prior is not None and (refined_prior.shape != prior.shape or refined_prior.dtype != np.uint8):
        raise ValueError(f"refined_prior must be a uint8 array of shape {prior.shape}, "
                         f"not {refined_prior.dtype} {refined_prior.shape}")
    mask = prior
    if keep_mask.any() or remove_mask.any():
        mask = _resegment(np.asarray(photo), prior, keep_mask, remove_mask, work_pixels=work_pixels,
                          iterations=iterations, reach=reach)
    if refine_edges:
        before = refine_mask(photo, prior) if refined_prior is None else refined_prior
        mask = before if mask is prior else _only_where_changed(before, refine_mask(photo, mask), prior, mask)
    mask = mask.copy()
    mask[keep_mask] = 255
    mask[remove_mask] = 0
    alpha = Image.fromarray(keep_own_transparency(mask, turned), mode="L")
    return Cutout(image=with_alpha(turned, alpha), mask=alpha)


def _resegment(rgb: np.ndarray, prior: np.ndarray, keep: np.ndarray, remove: np.ndarray, *, work_pixels: int,
               iterations: int, reach: float) -> np.ndarray:
    """The prior with GrabCut's accepted changes applied, full size (uint8), before edge refinement.

    Only the box around what the strokes can change is scaled down, cut and scaled back up; the rest of the frame
    is the prior, untouched (and not copied through float arrays at 12 MP).
    """
    height, width = prior.shape
    scale = min(1.0, math.sqrt(work_pixels / (width * height)))
    survey_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Where the strokes can reach, found on the prior and strokes scaled down (nearest: cheap, and only a box).
    small_prior = cv2.resize(prior, survey_size, interpolation=cv2.INTER_NEAREST) if scale < 1 else prior
    small_rgb = cv2.resize(rgb, survey_size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    small_keep = _shrink_stroke(keep, survey_size) if scale < 1 else keep
    small_remove = _shrink_stroke(remove, survey_size) if scale < 1 else remove
    diagonal = math.hypot(*survey_size)
    rejected, opened = _rejected_blobs(small_rgb, small_prior >= 128, small_keep, small_remove, diagonal)
    changeable = _within_reach(small_keep, small_remove, reach * diagonal) | rejected
    ys, xs = np.nonzero(changeable)
    pad = 2
    left, right = max(0, xs.min() - pad), min(survey_size[0], xs.max() + 1 + pad)
    top, bottom = max(0, ys.min() - pad), min(survey_size[1], ys.max() + 1 + pad)
    # The same box at full size, on whole pixels.
    box = (math.floor(left / scale), math.floor(top / scale), min(width, math.ceil(right / scale)),
           min(height, math.ceil(bottom / scale)))
    x0, y0, x1, y1 = box
    crop_rgb, crop_prior = rgb[y0:y1, x0:x1], prior[y0:y1, x0:x1]
    crop_keep, crop_remove = keep[y0:y1, x0:x1], remove[y0:y1, x0:x1]
    # The box, not the frame, is scaled to work_pixels: GrabCut's time follows its pixels (at most about
    # work_pixels, so a smooth photo cannot make it slow), and a small edit on a large photo keeps its detail.
    work_scale = min(1.0, math.sqrt(work_pixels / ((x1 - x0) * (y1 - y0))))
    work_size = (max(1, round((x1 - x0) * work_scale)), max(1, round((y1 - y0) * work_scale)))
    if work_scale < 1:
        # Area averaging keeps the prior's soft edges; _shrink_stroke keeps strokes thinner than a work pixel.
        work_rgb = cv2.resize(crop_rgb, work_size, interpolation=cv2.INTER_AREA)
        work_prior = cv2.resize(crop_prior, work_size, interpolation=cv2.INTER_AREA)
        work_keep = _shrink_stroke(crop_keep, work_size)
        work_remove = _shrink_stroke(crop_remove, work_size) & ~work_keep
    else:
        work_rgb, work_prior, work_keep, work_remove = crop_rgb, crop_prior, crop_keep, crop_remove
    work_rejected, work_opened = (_to_work_size(region[top:bottom, left:right], work_size)
                                  for region in (rejected, opened))
    added, removed = _grabcut_changes(work_rgb, work_prior, work_keep, work_remove, work_rejected, work_opened,
                                      iterations=iterations, reach=reach * math.hypot(width, height) * work_scale)
    # The faint halo the network left around a removed object goes with it.
    removed |= _dilate(removed, 2) & (work_prior < 128)
    crop_size = (x1 - x0, y1 - y0)
    if work_scale < 1:
        add_weight = cv2.resize(added.astype(np.float32), crop_size, interpolation=cv2.INTER_LINEAR)
        remove_weight = cv2.resize(removed.astype(np.float32), crop_size, interpolation=cv2.INTER_LINEAR)
    else:
        add_weight, remove_weight = added.astype(np.float32), removed.astype(np.float32)
    mask = prior.copy()
    blended = crop_prior * (1 - add_weight - remove_weight) + 255 * add_weight
    mask[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return mask


def _only_where_changed(before: np.ndarray, after: np.ndarray, prior: np.ndarray, changed: np.ndarray
                        ) -> np.ndarray:
    """The refined cut-out of the ``changed`` mask (``after``) where the change can show, the refined prior
    (``before``) elsewhere.

    The refinement fits windows of the mask, so a change moves the refined alpha around it too, up to
    :func:`pipeline.background.refinement_reach`: there a pixel may only go the way the change went (down near a
    removed region, up near an added one), so a remove stroke never adds to the cut-out nor a keep stroke take
    from it. Farther away the cut-out is the one being corrected, to the level.
    """
    lowered, raised = changed < prior, changed > prior
    points = cv2.findNonZero((lowered | raised).view(np.uint8))
    if points is None:
        return before
    height, width = prior.shape
    reach = refinement_reach((width, height))
    x, y, w, h = cv2.boundingRect(points)
    box = np.s_[max(0, y - reach):min(height, y + h + reach), max(0, x - reach):min(width, x + w + reach)]
    near_lowered = _distance_to(lowered[box]) <= reach
    near_raised = _distance_to(raised[box]) <= reach
    old, new = before[box], after[box]
    result = before.copy()
    result[box] = np.select([near_lowered & near_raised, near_lowered, near_raised],
                            [new, np.minimum(old, new), np.maximum(old, new)], old)
    return result


def _within_reach(keep: np.ndarray, remove: np.ndarray, reach: float) -> np.ndarray:
    """Where GrabCut may overturn the prior's confident pixels: within ``reach`` pixels of a stroke.

    Distance transforms, not dilations: a disc of a few hundred pixels would cost seconds.
    """
    return _distance_to(keep | remove) <= reach


def _shrink_stroke(stroke: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A stroke mask scaled down to ``size``: a work pixel more than half painted is painted, and a stroke part
    thinner than that (a dab or hairline that would vanish, leaving a touch-up nothing to work from) keeps every
    work pixel it touches."""
    # The painted share of each work pixel, in 16 bits so one painted pixel still shows in the average of
    # however many a work pixel covers.
    share = cv2.resize(np.multiply(stroke, np.uint16(65535), dtype=np.uint16), size, interpolation=cv2.INTER_AREA)
    painted, touched = share > 32768, share > 0
    count, labels = cv2.connectedComponents(touched.view(np.uint8), connectivity=8)
    vanished = np.ones(count, bool)
    vanished[0] = False
    vanished[labels[painted]] = False
    return painted | vanished[labels]


def _rejected_blobs(rgb: np.ndarray, prior_fg: np.ndarray, keep: np.ndarray, remove: np.ndarray, diagonal: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """What of the prior's blobs a remove stroke is plainly on as a whole: a second object the network kept, or
    the other object of a blob that holds the subject too; and where GrabCut may overturn even the prior's
    confident pixels of those blobs, however far from a stroke (``opened``, inside the box GrabCut cuts).

    A blob counts when a remove stroke touches it, a keep stroke shows the subject is elsewhere (there is one), the
    stroke reaches the blob's core (its deepest stroked pixel is at least CORE_DEPTH of the blob's greatest depth,
    the distance to its border), and it is painted on the blob's own colours (:func:`_painted_like_blob`). A
    blob no keep stroke is on or beside is rejected whole; of one beside a keep stroke, only the far side from it
    (:func:`_far_side`): a wall the network took in with the girl in front of it, the second of two people. A stroke
    on a sliver, a halo or a limb of the subject's blob is shallow by that measure whatever the blob's size, one in a
    filled hole is painted on the backdrop: only GrabCut's separation decides what of such a blob goes. ``rgb`` is
    the photo at the masks' size.

    Opened is a rejected blob whole, and of one beside a keep stroke its side nearer the remove stroke along paths
    inside it (the far side without its colour test). That matters where the two strokes are far apart in the blob
    (a graffiti wall the network kept with the skater in front of it): the confident pixels beyond ``reach`` of both
    were definite subject, so the wall between the strokes stayed whatever GrabCut found (u2net's 10 worst
    DAVIS-dev masks, careful strokes: mean gain +0.17 before, +0.22 opened). Opening the keep stroke's side too
    took the skater's hair with the wall.
    """
    rejected, opened = np.zeros_like(prior_fg), np.zeros_like(prior_fg)
    if not remove.any() or not keep.any():  # without a keep stroke nothing shows the subject is elsewhere
        return rejected, opened
    count, blobs = cv2.connectedComponents(prior_fg.view(np.uint8), connectivity=8)
    touched = np.unique(blobs[_dilate(remove, 1) & prior_fg])
    touched = touched[touched > 0]
    if not len(touched):
        return rejected, opened
    keep_distance = _distance_to(keep)
    near_keep = np.unique(blobs[(keep_distance <= KEEP_MARGIN * diagonal) & prior_fg])
    depth = cv2.distanceTransform(prior_fg.view(np.uint8), cv2.DIST_L2, 3)
    greatest = np.zeros(count, np.float32)
    np.maximum.at(greatest, blobs.ravel(), depth.ravel())
    on_stroke = remove & prior_fg
    stroked = np.zeros(count, np.float32)
    np.maximum.at(stroked, blobs[on_stroke], depth[on_stroke])
    codes = _colour_codes(rgb)
    for label in touched:
        blob = blobs == label
        if stroked[label] < CORE_DEPTH * greatest[label] or not _painted_like_blob(codes, blob, remove,
                                                                                   greatest[label]):
            continue
        if label in near_keep:
            side, nearer = _far_side(codes, blob, keep, keep_distance, remove)
            rejected |= side
            opened |= nearer
        else:
            rejected |= blob
            opened |= blob
    return rejected, opened


def _to_work_size(region: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A boolean mask of the survey's box at the work ``size`` (width, height), by nearest neighbour."""
    if region.shape[::-1] == size:
        return region
    return cv2.resize(region.view(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0


def _far_side(codes: np.ndarray, blob: np.ndarray, keep: np.ndarray, keep_distance: np.ndarray, remove: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``blob`` (a remove stroke on its core, a keep stroke beside it) that belongs with the remove
    stroke: nearer to it than to the keep stroke along paths inside the blob, and of colours likelier among the
    remove stroke's pixels than among the keep stroke's and the rest of the blob's; returned with the part nearer
    the remove stroke, whatever its colours.

    Both, because either alone took whole subjects: by distance alone, a keep stroke on a plane's nose and a remove
    stroke on its shadow gave the shadow's side the whole plane (−0.45 IoU on an eval photo not tuned on), and by
    colour alone a white horse went with the white poles of the jump in front of it. The geodesic distance (through
    the blob only) rather than the straight one follows the blob's shape: a subject standing in a wall the network
    kept is reached from the keep stroke beside it, not across the wall. Colour histograms as
    :func:`_painted_like_blob`, their log-ratio averaged over 5×5 pixels so single pixels do not speckle the side.
    ``codes``: the photo's colour bins (:func:`_colour_codes`); ``keep_distance``: each pixel's to the keep stroke.
    """
    painted = remove & blob
    gap = float(keep_distance[blob].min())
    keep_side_seeds = blob & (keep_distance <= gap + 2)  # the blob's pixels facing the keep stroke
    if not painted.any() or not keep_side_seeds.any():
        return np.zeros_like(blob), np.zeros_like(blob)
    to_remove, to_keep = (_path_lengths_inside(blob, seeds) for seeds in (painted, keep_side_seeds))
    nearer_remove = blob & (to_remove < to_keep)
    remove_share = _colour_shares(codes[painted])
    keep_share = _colour_shares(codes[keep | (blob & ~nearer_remove)])
    likelier = cv2.blur(np.log(remove_share[codes] / keep_share[codes]).astype(np.float32), (5, 5)) > 0
    return nearer_remove & likelier, nearer_remove


def _painted_like_blob(codes: np.ndarray, blob: np.ndarray, remove: np.ndarray, depth: float) -> bool:
    """Whether the remove stroke's pixels on ``blob`` have the colours of the rest of the blob rather than of the
    background around it: then the stroke is on the object the blob is; otherwise it is on background the network
    took in (a hole it filled, a halo), which must not take the blob with it.

    Colour histograms (8 levels a channel, so their proportions count: a blob of black handles around a filled hole
    of orange backdrop is not "orange" because some of it is); the stroke's pixels vote by their log-likelihood
    ratio. Where the stroke covers the whole blob, nothing else shows what the object looks like: it is the object.
    ``codes``: the photo's colour bins (:func:`_colour_codes`).
    """
    painted = remove & blob
    near_stroke = _distance_to(remove) <= max(2.0, depth / 4)
    rest = blob & ~near_stroke
    if rest.sum() < _MIN_COLOUR_SAMPLES:
        return True
    ring = ~blob & (_distance_to(blob) <= max(3.0, depth)) & ~near_stroke
    if ring.sum() < _MIN_COLOUR_SAMPLES:
        return True
    rest_share, ring_share = _colour_shares(codes[rest]), _colour_shares(codes[ring])
    return float(np.mean(np.log(rest_share[codes[painted]] / ring_share[codes[painted]]))) > 0


def _path_lengths_inside(region: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Each pixel's shortest 8-connected path length to ``seeds`` through ``region`` (inf outside it)."""
    # A fresh MCP per search: one MCP object keeps its state, and a second search from it gives wrong lengths.
    lengths, _ = MCP_Geometric(np.where(region, 1.0, np.inf)).find_costs(np.argwhere(seeds))
    return lengths


def _colour_codes(rgb: np.ndarray) -> np.ndarray:
    """Each pixel's colour bin: 8 levels a channel, 512 bins."""
    bins = (rgb // 32).astype(np.int32)
    return bins[..., 0] * 64 + bins[..., 1] * 8 + bins[..., 2]


def _colour_shares(codes: np.ndarray) -> np.ndarray:
    """The share of each colour bin among ``codes``, smoothed (half a count added to every bin) so an unseen
    colour is unlikely, not impossible."""
    return (np.bincount(codes, minlength=512) + 0.5) / (codes.size + 256)


def _grabcut_changes(rgb: np.ndarray, prior: np.ndarray, keep: np.ndarray, remove: np.ndarray, rejected: np.ndarray,
                     opened: np.ndarray, *, iterations: int, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """GrabCut from the prior and the strokes; return the pixels it may add to and remove from the prior.

    ``rejected``: what of the prior's blobs a remove stroke is on as a whole, ``opened``: where in those blobs
    GrabCut may overturn confident pixels beyond ``reach`` (:func:`_rejected_blobs`); ``reach`` is in pixels of
    ``rgb``.
    """
    prior_fg = prior >= 128
    labels = np.where(prior_fg, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    # The prior's subject around a remove stroke, as far out as the stroke is wide (a wide brush is on a wide
    # region), and nearer it than any keep stroke, starts as probable background: otherwise the region the stroke is
    # on trains GrabCut's model of the subject, which then keeps it.
    keep_distance, remove_distance = _distance_to(keep), _distance_to(remove)
    rejected = rejected | (_around_stroke(remove) & prior_fg & (keep_distance > remove_distance))
    # Within reach of a stroke (_within_reach), from the two distances already at hand.
    within_reach = (np.minimum(keep_distance, remove_distance) <= reach) | rejected | opened
    labels[rejected] = cv2.GC_PR_BGD  # its colours stop training GrabCut's model of the subject
    labels[~within_reach & (prior <= SURE_BACKGROUND)] = cv2.GC_BGD
    labels[~within_reach & (prior >= SURE_FOREGROUND)] = cv2.GC_FGD
    labels[remove] = cv2.GC_BGD
    labels[keep] = cv2.GC_FGD

    foreground = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    if min(foreground.sum(), (~foreground).sum()) < _GMM_COMPONENTS:
        # GrabCut fits a colour model to each side and needs samples of both; without them there is nothing to cut.
        return foreground & ~prior_fg, ~foreground & prior_fg

    background_model = np.zeros((1, 13 * _GMM_COMPONENTS), np.float64)
    foreground_model = np.zeros((1, 13 * _GMM_COMPONENTS), np.float64)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    cv2.setRNGSeed(RANDOM_SEED)  # GrabCut seeds its colour models by k-means: same photo and strokes, same result
    cv2.grabCut(bgr, labels, None, background_model, foreground_model, iterations, cv2.GC_INIT_WITH_MASK)
    foreground = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)

    # A change is kept only where it is part of a region of change touching a stroke of its kind.
    return _components_touching(foreground & ~prior_fg, keep), _components_touching(~foreground & prior_fg, remove)


def _around_stroke(stroke: np.ndarray) -> np.ndarray:
    """The pixels within each part of ``stroke``'s own width of it (a part's width: twice its greatest distance
    from its border)."""
    count, parts = cv2.connectedComponents(stroke.view(np.uint8), connectivity=8)
    inner = cv2.distanceTransform(stroke.view(np.uint8), cv2.DIST_L2, 3)
    half_width = np.zeros(count, np.float32)
    np.maximum.at(half_width, parts.ravel(), inner.ravel())
    around = np.zeros_like(stroke)
    for part in range(1, count):
        around |= _distance_to(parts == part) <= 2 * half_width[part]
    return around


def _components_touching(region: np.ndarray, stroke: np.ndarray) -> np.ndarray:
    """The 8-connected parts of ``region`` that a stroke touches (overlaps or borders)."""
    if not stroke.any() or not region.any():
        return np.zeros_like(region)
    _, parts = cv2.connectedComponents(region.view(np.uint8), connectivity=8)
    touched = np.unique(parts[_dilate(stroke, 1) & region])
    return np.isin(parts, touched[touched > 0])


def _distance_to(mask: np.ndarray) -> np.ndarray:
    """Each pixel's Euclidean distance (in pixels) to the nearest pixel of ``mask`` (large if it is empty)."""
    return cv2.distanceTransform((~mask).view(np.uint8), cv2.DIST_L2, 3)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.view(np.uint8), kernel) > 0
