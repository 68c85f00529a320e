"""Catalogue jobs: every photo under some folders or URLs cut out into a folder, a URL or a ZIP, resumably.

    from pipeline.catalogue import CutoutSettings, run_catalogue
    run_catalogue(["shop/photos"], "shop/cutouts", CutoutSettings(model="u2net"))

Each photo gives ``<its path relative to its source folder, suffix .png>`` in the destination (and, with a backdrop,
``<same>-composite.jpg``), so the destination mirrors the sources' layout. Sources and destinations are local paths
or fsspec URLs (``s3://…``, ``gs://…``, ``memory://…``; the protocol's fsspec package must be installed).

The destination's ``manifest.jsonl`` has one line per photo: source, output, status (``done`` or ``failed``), the
intake's message for a photo that could not be read, mask coverage, seconds, the source's stamp (size and
modification time, or its ETag) and the fingerprint of the settings and of the code and libraries that make the
results. A photo is done once its line is written, which
happens after its files are (each written whole: a temporary file renamed, or one object put). A rerun skips the
photos whose line says done with the same stamp and settings and whose output is there, so it finishes what a
killed run left and redoes nothing that was done; failed photos are tried again. A photo that cannot be read is
recorded and the job goes on.

Every result is :func:`pipeline.background.remove_background`'s for that photo with the settings' options, the
Remove tab's call; the precision is resolved once, by the process that starts the job, so every worker runs the same.
Locally the photos run a few at a time in threads (the network's calls and the rest overlap); with ``ray_address``
:mod:`pipeline.catalogue_ray` runs them on a Ray cluster (Ray is imported only then).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.intake import encode_image, load_image
from pipeline.options import DEFAULT_MODEL, resolve_precision

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
MANIFEST = "manifest.jsonl"
ZIP_STAGING_SUFFIX = ".parts"
URL_MANIFEST_INTERVAL = 5.0  # seconds between uploads of an object store's manifest (it cannot be appended to)


def is_url(location: str) -> bool:
    return "://" in location


def _filesystem(url: str) -> tuple[Any, str]:
    import fsspec  # only for URLs

    return fsspec.core.url_to_fs(url)


# The modules whose code decides a result's pixels, and the libraries under them.
_RESULT_MODULES = ("background", "matting", "compose", "intake", "quantize", "options")
_RESULT_LIBRARIES = ("rembg", "openvino", "onnxruntime", "opencv-python-headless", "pillow", "numpy", "pymatting")


@functools.cache
def _code_version() -> str:
    digest = hashlib.sha256()
    for module in _RESULT_MODULES:
        digest.update(Path(__file__).with_name(f"{module}.py").read_bytes())
    for library in _RESULT_LIBRARIES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            digest.update(f"{library}=={importlib.metadata.version(library)}".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class CutoutSettings:
    """What decides a photo's result: :func:`remove_background`'s options, and an optional composite backdrop."""

    model: str = DEFAULT_MODEL
    precision: str = "auto"
    refine_edges: bool = True
    alpha_matting: bool = False
    alpha_matting_foreground_threshold: int = 240
    alpha_matting_background_threshold: int = 10
    alpha_matting_erode_size: int = 10
    post_process_mask: bool = False
    only_mask: bool = False
    bgcolor: tuple[int, int, int, int] | None = None
    decontaminate: str = "fast"
    vitmatte: bool = False
    # Each cut-out is also composited (pipeline.compose.superimpose's defaults) onto this RGB colour or image file.
    backdrop_colour: tuple[int, int, int] | None = None
    backdrop_image: bytes | None = field(default=None, repr=False)

    def resolved(self) -> CutoutSettings:
        """The same settings with the precision resolved here ("auto" → what it means in this process)."""
        return dataclasses.replace(self, precision=resolve_precision(self.model, self.precision))  # type: ignore[arg-type]

    def remove_options(self) -> dict[str, Any]:
        options = dataclasses.asdict(self)
        for name in ("backdrop_colour", "backdrop_image"):
            del options[name]
        return options

    @property
    def composites(self) -> bool:
        return self.backdrop_colour is not None or self.backdrop_image is not None

    def fingerprint(self) -> str:
        """A digest of the settings and of the code that turns them into results (a new version redoes photos)."""
        described = dataclasses.asdict(self) | {"code": _code_version()}
        if self.backdrop_image is not None:
            described["backdrop_image"] = hashlib.sha256(self.backdrop_image).hexdigest()
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Photo:
    """One photo of the job: where it is read, where its results go (relative to the destination), its stamp."""

    source: str  # a local path or a URL
    output: str  # e.g. "shoes/red.png"
    stamp: str  # "size:mtime" (or the object's ETag): a changed file is done again

    @property
    def composite(self) -> str:
        return str(PurePosixPath(self.output).with_suffix("")) + "-composite.jpg"

    def record(self, fingerprint: str, status: str = "done", message: str = "") -> dict[str, Any]:
        """The photo's manifest record (its result's coverage and seconds filled in by whoever cuts it out)."""
        return {"source": self.source, "output": self.output, "status": status, "message": message,
                "coverage": None, "seconds": 0.0, "stamp": self.stamp, "settings": fingerprint}


def _stamp(info: dict[str, Any]) -> str:
    for key in ("mtime", "LastModified", "last_modified", "updated", "ETag", "etag", "created"):
        if info.get(key) is not None:
            return f"{info.get('size')}:{info[key]}"
    return f"{info.get('size')}:"


def _found(source: str) -> Iterator[tuple[str, str, str]]:
    """(location, path relative to the source, stamp) of every image file a source names, in name order."""
    if is_url(source):
        fs, root = _filesystem(source)
        if fs.isdir(root):
            listing = fs.find(root, detail=True)
            for path in sorted(listing):
                if PurePosixPath(path).suffix.lower() in IMAGE_SUFFIXES:
                    relative = str(PurePosixPath(path).relative_to(root.rstrip("/") or "/"))
                    # Under the URL as the user spelt it, which every node resolves the same way.
                    yield f"{source.rstrip('/')}/{relative}", relative, _stamp(listing[path])
        else:
            yield source, PurePosixPath(root).name, _stamp(fs.info(root))
        return
    path = Path(source)
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.suffix.lower() in IMAGE_SUFFIXES and file.is_file():
                stat = file.stat()
                yield str(file), file.relative_to(path).as_posix(), f"{stat.st_size}:{stat.st_mtime_ns}"
    else:
        stat = path.stat() if path.is_file() else None
        yield str(path), path.name, f"{stat.st_size}:{stat.st_mtime_ns}" if stat else "missing"


def list_photos(sources: Sequence[str | os.PathLike], *, exclude: str | None = None) -> list[Photo]:
    """Every photo the sources name: files as given, folders (local or URL) searched recursively.

    Outputs are the relative paths with the suffix ``.png``; where two photos would share one (``a.jpg`` and
    ``a.png``, or the same name in two sources) the later in name order gets ``-2``, ``-3``…. Files under the
    folder ``exclude`` (the destination, when it lies inside a source) are left out.
    """
    photos: list[Photo] = []
    taken: set[str] = set()
    skip = None if exclude is None or is_url(exclude) else Path(exclude).resolve()
    for source in map(str, sources):
        for location, relative, stamp in _found(source):
            if skip is not None and not is_url(location) and Path(location).resolve().is_relative_to(skip):
                continue
            stem = str(PurePosixPath(relative).with_suffix(""))
            output, counter = f"{stem}.png", 2
            while output in taken:
                output, counter = f"{stem}-{counter}.png", counter + 1
            taken.add(output)
            photos.append(Photo(location, output, stamp))
    return photos


class Destination:
    """A folder or an fsspec URL that results are written into, each file whole."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = str(root)
        self.url = is_url(self.root)
        if self.url:
            self._fs, self._path = _filesystem(self.root)
        else:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    def write(self, relative: str, data: bytes) -> None:
        if self.url:
            self._fs.pipe_file(f"{self._path.rstrip('/')}/{relative}", data)
            return
        target = Path(self.root, relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed: a killed run never leaves a half-written file under the result's name.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, target)

    def existing(self) -> set[str]:
        """Relative paths of the files already there."""
        if self.url:
            root = self._path.rstrip("/")
            return {path[len(root) + 1:] for path in self._fs.find(root)} if self._fs.exists(root) else set()
        root = Path(self.root)
        return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}

    def read_manifest(self) -> str:
        if self.url:
            path = f"{self._path.rstrip('/')}/{MANIFEST}"
            return self._fs.cat_file(path).decode() if self._fs.exists(path) else ""
        path = Path(self.root, MANIFEST)
        return path.read_text() if path.exists() else ""


def _coverage(mask: np.ndarray) -> float:
    return round(float(mask.mean()) / 255, 4)


class CutoutWorker:
    """Cuts out photos and writes their results: what a local thread or a Ray actor runs, one photo per call."""

    def __init__(self, settings: CutoutSettings, destination: str) -> None:
        self.settings = settings
        self.fingerprint = settings.fingerprint()
        self.destination = Destination(destination)
        self._backdrop: Any = settings.backdrop_colour
        if settings.backdrop_image is not None:
            self._backdrop = load_image(settings.backdrop_image).image

    def warm_up(self) -> None:
        """Compile the network now (once per process), not on the first photo."""
        from pipeline.background import rembg_session

        rembg_session(self.settings.model, self.settings.precision)  # type: ignore[arg-type]

    def _read(self, source: str) -> Any:
        if is_url(source):
            fs, path = _filesystem(source)
            return load_image(fs.cat_file(path), name=PurePosixPath(path).stem)
        return load_image(source)

    def __call__(self, photo: Photo) -> dict[str, Any]:
        """The photo's manifest record, once its files are written."""
        from pipeline.background import remove_background  # here: a Ray job's driver never loads rembg
        from pipeline.compose import superimpose

        started = time.perf_counter()
        record = photo.record(self.fingerprint)
        try:
            cutout = remove_background(self._read(photo.source).image, **self.settings.remove_options())
            if self.settings.composites:
                # Before the cut-out: a photo whose cut-out is there has all its files.
                self.destination.write(photo.composite, encode_image(superimpose(cutout.image, self._backdrop),
                                                                     "jpeg"))
                record["composite"] = photo.composite
            # Compression level 1, as the Remove tab writes its PNGs: several times faster, files ~15% larger.
            self.destination.write(photo.output, encode_image(cutout.image, png_compress_level=1))
            record["coverage"] = _coverage(np.asarray(cutout.mask))
        except PipelineError as error:
            record.update(status="failed", message=error.message)
        except Exception as error:  # a job of thousands goes on past one photo's trouble, and says what it was
            record.update(status="failed", message=f"{type(error).__name__}: {error}")
        record["seconds"] = round(time.perf_counter() - started, 3)
        return record


@dataclass
class CatalogueReport:
    destination: str
    total: int
    skipped: int  # done by an earlier run
    done: int
    failed: list[tuple[str, str]]  # (source, message)
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)  # the runner's own figures (e.g. Ray's memory per actor)

    def summary(self) -> str:
        text = f"{self.skipped + self.done} of {self.total} photos cut out"
        text += f" ({self.skipped} already done by an earlier run)." if self.skipped else "."
        if self.done:
            text += f" {self.done} in {self.seconds:.1f} s: {self.done / max(self.seconds, 1e-9):.2f} photos/s."
        for source, message in self.failed:
            text += f"\n{source}: {message}"
        return text


class Manifest:
    """The destination's manifest.jsonl: read at the start, a line appended per photo, one line per photo at the end."""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self.records: dict[str, dict[str, Any]] = {}
        for line in destination.read_manifest().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # the last line of a killed run may be cut short
                continue
            self.records[record["source"]] = record
        self._file = None if destination.url else open(Path(destination.root, MANIFEST), "a")  # noqa: SIM115
        self._uploaded = time.monotonic()

    def done(self, photo: Photo, fingerprint: str, existing: set[str]) -> bool:
        record = self.records.get(photo.source)
        return (record is not None and record["status"] == "done" and record["stamp"] == photo.stamp
                and record["settings"] == fingerprint and record["output"] == photo.output
                and photo.output in existing)

    def add(self, record: dict[str, Any]) -> None:
        self.records[record["source"]] = record
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        elif time.monotonic() - self._uploaded > URL_MANIFEST_INTERVAL:
            self._upload()

    def _text(self) -> str:
        return "".join(json.dumps(record) + "\n" for record in self.records.values())

    def _upload(self) -> None:
        self.destination.write(MANIFEST, self._text().encode())
        self._uploaded = time.monotonic()

    def close(self) -> None:
        """Rewrite the manifest with one line per photo (the latest)."""
        if self._file is not None:
            self._file.close()
        self._upload()


def run_locally(photos: Iterable[Photo], settings: CutoutSettings, destination: str, record: Callable[[dict], None],
                *, workers: int | None = None) -> dict[str, Any]:
    """Cut out the photos here, ``workers`` at a time (default: one per core), calling ``record`` with each's record."""
    workers = workers or os.cpu_count() or 1
    worker = CutoutWorker(settings, destination)
    worker.warm_up()
    pending = iter(photos)
    with ThreadPoolExecutor(workers) as pool:
        running: set[Future] = set()
        while True:
            # A few photos in flight, not all: the photos are read as they are reached.
            for photo in pending:
                running.add(pool.submit(worker, photo))
                if len(running) >= 2 * workers:
                    break
            if not running:
                return {"workers": workers}
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                record(future.result())


def run_catalogue(sources: Sequence[str | os.PathLike], destination: str | os.PathLike, settings: CutoutSettings,
                  *, ray_address: str | None = None, cpus_per_actor: int = 1,
                  progress: Callable[[int, int], None] | None = None) -> CatalogueReport:
    """Cut out every photo of ``sources`` into ``destination`` (a folder, a URL, or a ``.zip``), skipping what is done.

    Args:
        sources: files, folders (searched recursively) or fsspec URLs of either.
        destination: a folder or URL that mirrors the sources' layout, or a ``.zip`` file of that layout (made in
            ``<name>.zip.parts/`` beside it, which a rerun resumes, and packed at the end).
        settings: the options of every photo's cut-out.
        ray_address: run on Ray: ``"auto"`` (the cluster this machine is part of), ``"local"`` (start one here) or a
            cluster's address (``host:port``). None: in this process.
        cpus_per_actor: with Ray, the CPUs (and OpenVINO threads) of each actor; the actors fill the cluster's CPUs.
        progress: called with (photos finished, total), including those done by an earlier run.
    """
    started = time.perf_counter()
    settings = settings.resolved()
    fingerprint = settings.fingerprint()
    destination = str(destination)
    archive = Path(destination) if destination.lower().endswith(".zip") and not is_url(destination) else None
    folder = str(archive) + ZIP_STAGING_SUFFIX if archive else destination
    target = Destination(folder)
    manifest = Manifest(target)
    photos = list_photos(sources, exclude=folder)
    existing = target.existing()
    todo = [photo for photo in photos if not manifest.done(photo, fingerprint, existing)]
    skipped = len(photos) - len(todo)
    finished = skipped
    failed: list[tuple[str, str]] = []
    if progress:
        progress(finished, len(photos))

    def record(result: dict[str, Any]) -> None:
        nonlocal finished
        manifest.add(result)
        if result["status"] != "done":
            failed.append((result["source"], result["message"]))
        finished += 1
        if progress:
            progress(finished, len(photos))

    try:
        if not todo:
            details: dict[str, Any] = {}
        elif ray_address is None:
            details = run_locally(todo, settings, folder, record)
        else:
            from pipeline import catalogue_ray

            details = catalogue_ray.run_on_ray(todo, settings, folder, record, address=ray_address,
                                               cpus_per_actor=cpus_per_actor)
    finally:
        manifest.close()
    if archive is not None:
        _pack(Path(folder), archive)
    return CatalogueReport(str(archive or destination), len(photos), skipped, len(todo) - len(failed), failed,
                           time.perf_counter() - started, details)


def _pack(folder: Path, archive: Path) -> None:
    """The staging folder into the ZIP (stored: PNG and JPEG are compressed already), then the folder removed."""
    partial = archive.with_name(archive.name + ".tmp")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                bundle.write(path, path.relative_to(folder).as_posix())
    os.replace(partial, archive)
    shutil.rmtree(folder)
