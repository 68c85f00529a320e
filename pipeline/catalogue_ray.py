"""A catalogue job on a Ray cluster: Ray Data's streaming ``map_batches`` over an actor pool.

Imported by :func:`pipeline.catalogue.run_catalogue` only when the job is given a Ray address (Ray is an optional
extra: ``pip install -r requirements-ray.txt``). The dataset holds the photos' locations, not their pixels; each
actor compiles the network once (with as many OpenVINO threads as it has CPUs), then reads, cuts out and writes
photo after photo itself, so only the small manifest records travel back to the driver. The pool grows to fill the
cluster's CPUs and shrinks to what is left when a node is lost: Ray restarts the lost actors and retries their
photos elsewhere (a retried photo writes the same files again, whole), so the job completes.

Sources and the destination must be reachable from every node under the same names: a shared file system, or
object storage by fsspec URL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import ray

from pipeline.catalogue import CutoutSettings, CutoutWorker, Photo


class CutoutActor:
    """One actor of the pool: a :class:`CutoutWorker` with the network compiled for its CPUs."""

    def __init__(self, settings: CutoutSettings, destination: str, threads: int) -> None:
        import cv2
        import psutil

        from pipeline import background

        background.INFERENCE_THREADS = threads
        cv2.setNumThreads(threads)
        self.worker = CutoutWorker(settings, destination)
        self.worker.warm_up()
        self._process = psutil.Process()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        records = [self.worker(Photo(source, output, stamp))
                   for source, output, stamp in zip(batch["source"], batch["output"], batch["stamp"], strict=True)]
        columns: dict[str, list] = {key: [] for key in ("source", "output", "status", "message", "coverage",
                                                        "seconds", "stamp", "settings", "composite")}
        for record in records:
            for key, values in columns.items():
                value = record.get(key)
                values.append(value if value is not None else -1.0 if key == "coverage" else "")
        columns["rss_mb"] = [self._process.memory_info().rss / 2**20] * len(records)
        columns["node"] = [ray.get_runtime_context().get_node_id()[:8]] * len(records)
        return columns


def connect(address: str) -> None:
    """Join the cluster at ``address`` ("auto", "host:port", a ray:// client address) or start one ("local")."""
    if address == "local":
        ray.init(include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)


def run_on_ray(photos: list[Photo], settings: CutoutSettings, destination: str, record: Callable[[dict], None], *,
               address: str, cpus_per_actor: int = 1) -> dict[str, Any]:
    """Cut out ``photos`` on the Ray cluster at ``address``, calling ``record`` with each photo's manifest record.

    Returns the cluster's figures: nodes, CPUs, actors, and each actor's peak resident memory (MB).
    """
    from ray import data

    connect(address)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        nodes = sum(1 for node in ray.nodes() if node["Alive"])
        actors = max(1, cpus // cpus_per_actor)
        context = data.DataContext.get_current()
        context.enable_progress_bars = False  # the job's own bar counts photos; Ray Data's would count blocks
        context.print_on_execution_start = False
        # One photo per block and per batch: a lost node costs only its photos in flight, and the records stream
        # back (and into the manifest) as each photo is finished.
        dataset = data.from_items([dataclasses.asdict(photo) for photo in photos], override_num_blocks=len(photos))
        results = dataset.map_batches(
            CutoutActor, fn_constructor_kwargs={"settings": settings, "destination": destination,
                                                "threads": cpus_per_actor},
            batch_size=1, num_cpus=cpus_per_actor,
            # Every actor starts at once (from min_size, the pool would wait for the first to be ready before
            # starting the next), and may shrink to one when a node is lost. Two photos in flight per actor keep
            # it fed without queueing a long tail on one actor while another idles.
            compute=data.ActorPoolStrategy(min_size=1, max_size=actors, initial_size=actors,
                                           max_tasks_in_flight_per_actor=2),
            batch_format="numpy")
        memory: dict[str, float] = {}
        nodes_used: set[str] = set()
        for row in results.iter_rows():
            row = dict(row)
            memory[row["node"]] = max(memory.get(row["node"], 0.0), float(row.pop("rss_mb")))
            nodes_used.add(row.pop("node"))
            clean = {key: (value.item() if hasattr(value, "item") else value) for key, value in row.items()}
            if clean["coverage"] == -1.0:
                clean["coverage"] = None
            if not clean["composite"]:
                del clean["composite"]
            record(clean)
        return {"nodes": nodes, "cpus": cpus, "actors": actors, "nodes_used": len(nodes_used),
                "actor_peak_rss_mb": round(max(memory.values(), default=0.0))}
    finally:
        ray.shutdown()
