"""INT8 U²-Net (pipeline.quantize): the real NNCF build, its cache and verification, the "auto" choice, the quick
pre- and post-processing of the non-exact precisions."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.bench_background import eval_pairs, iou_mae
from pipeline import background, models, options, quantize
from pipeline.background import model_mask, rembg_session
from pipeline.options import INT8_KEEPS_QUALITY, resolve_precision

SETS = ("davis-dev", "grabcut")
SUBSET_STEP = {"davis-dev": 6, "grabcut": 2}  # 29 + 25 evenly spaced pairs


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model store of its own holding u2netp (copied from the real store), so builds here are fresh."""
    folder = tmp_path_factory.mktemp("store")
    source = models.ensure_model("u2netp")
    (folder / "rembg").mkdir()
    shutil.copyfile(source, folder / "rembg" / source.name)
    return folder


@pytest.fixture
def in_store(store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BACKDROP_MODELS_DIR", str(store))
    return store


@pytest.fixture(scope="module")
def built(store: Path) -> Path:
    """u2netp's INT8 network, really built by NNCF in the module's own store (about a minute on 2 cores)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BACKDROP_MODELS_DIR", str(store))
        return quantize.ensure_int8("u2netp")


def test_build_is_quantized_cached_and_keyed(built: Path, in_store: Path) -> None:
    folder = built.parent
    assert folder.parent == in_store / "derived"
    assert folder.name == f"u2netp-int8-{quantize.cache_key('u2netp')}"
    assert sorted(path.name for path in folder.iterdir()) == ["SHA256SUMS", "recipe.json", "u2netp.bin", "u2netp.xml"]
    network = models.openvino_core().read_model(built)
    kinds = [op.get_type_name() for op in network.get_ordered_ops()]
    assert kinds.count("FakeQuantize") > 50  # the convolutions' inputs and weights are quantized
    # The side outputs and their fusion stay float: no FakeQuantize feeds them.
    kept = quantize._float_convolutions(network, quantize.RECIPE.keep_float)
    assert len(kept) == 7
    for op in network.get_ordered_ops():
        if op.get_friendly_name() in kept:
            assert op.input_value(0).get_node().get_type_name() != "FakeQuantize"
    # Built once: a second call verifies and returns the same files without building again.
    mtime = built.stat().st_mtime_ns
    assert quantize.ensure_int8("u2netp") == built and built.stat().st_mtime_ns == mtime
    assert quantize.int8_path("u2netp") == built


def test_cache_key_follows_source_and_recipe(in_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = quantize.cache_key("u2netp")
    assert quantize.cache_key("u2netp", quantize.Recipe(seed=1)) != key
    assert quantize.cache_key("u2netp", quantize.Recipe(keep_float=())) != key
    assert quantize.cache_key("u2net") != key  # another source checksum
    quantize.cache_key.cache_clear()
    monkeypatch.setattr(quantize, "_versions", lambda: {"nncf": "0.0", "openvino": "0.0"})
    try:
        assert quantize.cache_key("u2netp") != key
    finally:
        quantize.cache_key.cache_clear()


def test_corrupt_build_is_rebuilt(built: Path, in_store: Path) -> None:
    weights = built.with_suffix(".bin")
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert quantize.int8_path("u2netp") is None  # a corrupt file is never handed to OpenVINO
    older = in_store / "derived" / "u2netp-int8-0123456789abcdef"  # as an earlier recipe's build leaves it
    other = in_store / "derived" / "u2net-int8-0123456789abcdef"
    for folder in (older, other):
        folder.mkdir()
        (folder / "SHA256SUMS").write_text("")
    rebuilt = quantize.ensure_int8("u2netp")
    assert rebuilt == built and quantize.int8_path("u2netp") == built
    assert not older.exists() and other.exists()  # a new build removes the one it supersedes, of its model only
    (built.parent / "SHA256SUMS").write_text("")  # a partial sidecar does not verify either
    assert quantize.int8_path("u2netp") is None
    assert quantize.ensure_int8("u2netp") == built


def test_present_build_also_removes_the_ones_it_supersedes(built: Path, in_store: Path) -> None:
    """An upgrade can find the current build already made (by another process or machine sharing the store):
    the older recipe's build goes then too, without building again."""
    assert quantize.ensure_int8("u2netp") == built
    mtime = built.stat().st_mtime_ns
    older = in_store / "derived" / "u2netp-int8-fedcba9876543210"
    other = in_store / "derived" / "u2net-int8-fedcba9876543210"
    for folder in (older, other):
        folder.mkdir()
        (folder / "SHA256SUMS").write_text("")
    assert quantize.ensure_int8("u2netp") == built and built.stat().st_mtime_ns == mtime  # not rebuilt
    assert not older.exists() and other.exists()


def test_u2netp_int8_runs_but_costs_quality(built: Path, in_store: Path, eval_dir: Path) -> None:
    """u2netp at INT8 runs through the pipeline, but this recipe costs it IoU (0.74 → 0.59 on these five GrabCut
    photos): that is why "auto" keeps u2netp at exact, and INT8 is an opt-in for it."""
    background._sessions.clear()
    scores: dict[str, list[float]] = {"exact": [], "int8": []}
    for _, photo, truth in eval_pairs("grabcut", 10):
        for precision in scores:
            mask = model_mask(photo, model="u2netp", precision=precision)
            assert mask.shape == truth.shape and mask.dtype == np.uint8
            scores[precision].append(iou_mae(mask, truth)[0])
    background._sessions.clear()
    assert np.mean(scores["int8"]) > 0.5  # it still finds the subjects
    assert np.mean(scores["exact"]) - np.mean(scores["int8"]) > 0.005
    assert "u2netp" not in INT8_KEEPS_QUALITY


def test_auto_picks_int8_only_where_it_keeps_quality_and_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plumbing (fake availability): "auto" never waits for a build, and never picks INT8 outside the list."""
    monkeypatch.setattr(options, "INT8_KEEPS_QUALITY", frozenset({"u2net"}))
    monkeypatch.setattr(quantize, "int8_path", lambda model: None)
    assert resolve_precision("u2net") == "fast"  # not built yet: the current precision
    monkeypatch.setattr(quantize, "int8_path", lambda model: Path("built.xml"))
    assert resolve_precision("u2net") == "int8"
    assert resolve_precision("u2netp") == "exact"
    assert resolve_precision("u2net", "fast") == "fast"
    with pytest.raises(ValueError, match="int8"):
        resolve_precision("u2net", "int4")  # type: ignore[arg-type]


def test_quick_processing_matches_rembgs(eval_dir: Path) -> None:
    """At "fast", the quick resizes give rembg's own predict's mask to within a few grey levels (same network).

    On average a fraction of a level; a photo the network is unsure of (GrabCut 24077, IoU 0.2) moves most, about
    4 levels and 1 % of its pixels across 128, because the network's input is resized differently.
    """
    session = rembg_session("u2netp", "fast")
    differences, flips = [], []
    for _, photo, _ in eval_pairs("grabcut", 10):
        large = photo.resize((photo.width * 5, photo.height * 5), Image.Resampling.BICUBIC)
        for image in (photo, large):
            ours = model_mask(image, model="u2netp", precision="fast").astype(np.int16)
            theirs = np.asarray(session.predict(image)[0], dtype=np.int16)
            assert ours.shape == theirs.shape
            differences.append(np.abs(ours - theirs).mean())
            flips.append(((ours >= 128) != (theirs >= 128)).mean())
    assert max(differences) < 8 and max(flips) < 0.02
    assert np.mean(differences) < 1.5 and np.mean(flips) < 0.003


def test_exact_stays_rembgs_processing(eval_dir: Path) -> None:
    photo = next(eval_pairs("grabcut"))[1]
    session = rembg_session("u2netp", "exact")
    assert np.array_equal(model_mask(photo, model="u2netp", precision="exact"), np.asarray(session.predict(photo)[0]))


@pytest.mark.skipif(not INT8_KEEPS_QUALITY, reason="no model's INT8 network keeps quality: INT8 is opt-in")
def test_int8_keeps_quality_where_auto_picks_it(eval_dir: Path) -> None:
    """Every model "auto" runs at INT8: mean IoU and MAE within 0.005 of exact on both sets (evenly spaced pairs)."""
    for model in INT8_KEEPS_QUALITY:
        quantize.ensure_int8(model)
        for name in SETS:
            scores: dict[str, list[tuple[float, float]]] = {"int8": [], "exact": []}
            for _, photo, truth in eval_pairs(name, SUBSET_STEP[name]):
                for precision in scores:
                    scores[precision].append(iou_mae(model_mask(photo, model=model, precision=precision), truth))
            int8, exact = np.mean(scores["int8"], axis=0), np.mean(scores["exact"], axis=0)
            assert np.all(np.abs(int8 - exact) <= 0.005), (model, name, int8, exact)
