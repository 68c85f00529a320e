"""A catalogue job on a Ray cluster: a pool of Ray actors, one per CPU, fed the photos' locations as they finish.

Imported by :func:`pipeline.catalogue.run_catalogue` only when the job is given a Ray address (Ray is an optional
extra: ``pip install -r requirements-ray.txt``). The driver holds the photos' locations, not their pixels, and keeps
two in flight per actor; each actor compiles the network once (with as many OpenVINO threads as it has CPUs), then
reads, cuts out and writes photo after photo itself, so only the small manifest records travel back to the driver.

The pool is Ray Core actors, not Ray Data's ``map_batches`` (which this module used before): for this job Ray Data
added three helper actors (stats, autoscaling coordinator, actor locations: about 7 CPU seconds between them at
start-up), imported ``ray.data`` (pandas, pyarrow) in the driver and in every actor, and polled in the driver, all
on the cores the actors start on. On two cores with 56 photos its first result came 17 s after the start, against
8–9 s with this pool (4 s for the job without Ray). The pool does what the job used of Ray Data:

- it fills the cluster's CPUs when the job starts;
- when a node is lost, its actors' photos in flight go back to the queue (at the front) and run on the actors
  left; each lost actor is replaced by a new one, which is fed once it is up (when CPUs are free again, e.g. a
  node rejoins). A retried photo writes the same files again, whole. A photo whose actor is lost
  :data:`MAX_TRIES` times is recorded as failed, so a photo that kills its worker cannot stall the job.

Sources and the destination must be reachable from every node under the same names: a shared file system, or
object storage by fsspec URL.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import RayActorError

from pipeline.catalogue import CutoutSettings, CutoutWorker, Photo
from pipeline.errors import PipelineError

IN_FLIGHT_PER_ACTOR = 2  # one being cut out, one ready to start: an actor never waits for the driver
MAX_TRIES = 3  # times a photo is sent to an actor that is then lost, before it is recorded as failed


class CutoutActor:
    """One actor of the pool: a :class:`CutoutWorker` with the network compiled for its CPUs."""

    def __init__(self, settings: CutoutSettings, destination: str, threads: int) -> None:
        import cv2
        import psutil

        from pipeline import background

        background.INFERENCE_THREADS = threads
        cv2.setNumThreads(threads)
        self.worker = CutoutWorker(settings, destination)
        # A model this node cannot have (or an unknown name) is said to the driver, not raised: Ray would give it
        # as a traceback of the actor's death.
        self._unusable: str | None = None
        try:
            self.worker.warm_up()
        except PipelineError as error:
            self._unusable = error.message
        self._process = psutil.Process()
        self._node = ray.get_runtime_context().get_node_id()[:8]

    def ready(self) -> str | None:
        """Returns once the actor is constructed (its network compiled): None, or why it cannot cut out."""
        return self._unusable

    def cut_out(self, photo: Photo) -> dict[str, Any]:
        """The photo's manifest record, with this actor's node and resident memory (MB) beside it."""
        return self.worker(photo) | {"node": self._node, "rss_mb": self._process.memory_info().rss / 2**20}


def connect(address: str) -> None:
    """Join the cluster at ``address`` ("auto", "host:port", a ray:// client address) or start one ("local")."""
    if address == "local":
        ray.init(include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)


class _Pool:
    """The actors, the photos queued and in flight, and what to do when an actor is lost."""

    def __init__(self, photos: list[Photo], settings: CutoutSettings, destination: str, cpus_per_actor: int) -> None:
        self._actor_class = ray.remote(CutoutActor).options(num_cpus=cpus_per_actor, max_restarts=0)
        self._arguments = (settings, destination, cpus_per_actor)
        self.queue: deque[Photo] = deque(photos)
        self.tries: dict[str, int] = {}
        self.starting: dict[ray.ObjectRef, Any] = {}  # ready() of each actor not yet up -> the actor
        self.unusable: list[str] = []  # why actors that came up cannot cut out (e.g. a model their node lacks)
        self.load: dict[Any, int] = {}  # actors that are up -> photos in flight on each
        self.running: dict[ray.ObjectRef, tuple[Any, Photo]] = {}

    def start_actor(self) -> None:
        actor = self._actor_class.remote(*self._arguments)
        self.starting[actor.ready.remote()] = actor

    def feed(self) -> None:
        for actor in sorted(self.load, key=self.load.__getitem__):
            while self.queue and self.load[actor] < IN_FLIGHT_PER_ACTOR:
                photo = self.queue.popleft()
                self.running[actor.cut_out.remote(photo)] = (actor, photo)
                self.load[actor] += 1

    def came_up(self, ready: ray.ObjectRef) -> None:
        """Feed the actor whose ``ready()`` this is from now on, or drop it (not replaced) if it cannot cut out."""
        actor = self.starting.pop(ready)
        try:
            reason = ray.get(ready)
        except RayActorError:  # lost before it was up (its node, or its constructor failed)
            ray.kill(actor, no_restart=True)
            return
        if reason is None:
            self.load[actor] = 0
        else:
            self.unusable.append(reason)
            ray.kill(actor, no_restart=True)

    def lose(self, actor: Any) -> None:
        """Forget an actor that was up and is lost (once, however many of its calls fail), and start another."""
        if self.load.pop(actor, None) is not None:
            ray.kill(actor, no_restart=True)
            self.start_actor()


def run_on_ray(photos: list[Photo], settings: CutoutSettings, destination: str, record: Callable[[dict], None], *,
               address: str, cpus_per_actor: int = 1) -> dict[str, Any]:
    """Cut out ``photos`` on the Ray cluster at ``address``, calling ``record`` with each photo's manifest record.

    Returns the cluster's figures: nodes, CPUs, actors, and each actor's peak resident memory (MB).
    """
    connect(address)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        nodes = sum(1 for node in ray.nodes() if node["Alive"])
        actors = max(1, cpus // cpus_per_actor)
        pool = _Pool(photos, settings, destination, cpus_per_actor)
        for _ in range(actors):
            pool.start_actor()
        memory: dict[str, float] = {}
        while pool.queue or pool.running:
            pool.feed()
            if not pool.running and not pool.starting:
                if pool.unusable:
                    raise PipelineError(pool.unusable[0])
                raise PipelineError("Every Ray actor of the job failed to start; the cluster's logs say why.")
            (ref,), _ = ray.wait([*pool.running, *pool.starting], num_returns=1)
            if ref in pool.starting:
                pool.came_up(ref)
                continue
            actor, photo = pool.running.pop(ref)
            try:
                result = ray.get(ref)
            except RayActorError as error:
                pool.lose(actor)
                tries = pool.tries[photo.source] = pool.tries.get(photo.source, 0) + 1
                if tries < MAX_TRIES:
                    pool.queue.appendleft(photo)
                else:
                    record(photo.record(settings.fingerprint(), "failed",
                                        f"its Ray worker was lost {tries} times ({type(error).__name__})"))
                continue
            if actor in pool.load:
                pool.load[actor] -= 1
            node = result.pop("node")
            memory[node] = max(memory.get(node, 0.0), result.pop("rss_mb"))
            record(result)
        return {"nodes": nodes, "cpus": cpus, "actors": actors, "nodes_used": len(memory),
                "actor_peak_rss_mb": round(max(memory.values(), default=0.0))}
    finally:
        ray.shutdown()
