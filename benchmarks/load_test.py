"""Load test: concurrent gradio_client clients against the launched app on loopback.

    python -m benchmarks.load_test                 # full: 4 clients × 25 requests (100), every tab
    python -m benchmarks.load_test --quick         # 3 clients × 3 requests (CI runs it as tests/test_load.py)

Every request must be served; prints p50/p95 latency per endpoint and the server's memory before and after.
Bounded: each client stops at its request count or at the deadline, whichever comes first.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import psutil
from gradio_client import Client, handle_file

from benchmarks.harness import ROOT, launch_app, stop

SAMPLES = ROOT / "assets" / "samples"
BACKGROUNDS = ROOT / "assets" / "backgrounds"
MEMORY_GROWTH_BOUND_MB = 300  # after warm-up, 100 requests may not grow the server by more than this
QUICK = (3, 3)  # clients × requests each, for CI


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, endpoint: str, seconds: float) -> None:
        with self.lock:
            self.latencies.setdefault(endpoint, []).append(seconds)

    def fail(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


def requests_for(model: str) -> list[tuple[str, tuple, dict]]:
    """One request per tab, taking turns: (endpoint, positional inputs, keyword inputs)."""
    background = sorted(BACKGROUNDS.glob("*.jpg")) or sorted(SAMPLES.glob("*.jpg"))
    return [
        ("/remove_background", (handle_file(str(SAMPLES / "chelsea.jpg")),), {"model": model}),
        ("/enhance_resolution", (handle_file(str(SAMPLES / "coffee.jpg")),), {"scale": 2}),
        ("/superimpose", (handle_file(str(SAMPLES / "astronaut.jpg")), handle_file(str(background[0]))),
         {}),
    ]


def server_pid(url: str) -> int:
    """The process listening on ``url``'s port on this machine (the app launched by someone else, e.g. a fixture)."""
    port = urllib.parse.urlsplit(url).port
    return next(connection.pid for connection in psutil.net_connections("tcp")
                if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid)


def server_rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 1e6


def run_client(url: str, count: int, deadline: float, model: str, offset: int, results: Results) -> None:
    client = Client(url, verbose=False)
    plan = requests_for(model)
    for index in range(count):
        if time.monotonic() > deadline:
            results.fail(f"client {offset}: deadline reached after {index} requests")
            return
        endpoint, args, kwargs = plan[(index + offset) % len(plan)]
        started = time.monotonic()
        try:
            client.predict(*args, api_name=endpoint, **kwargs)
        except Exception as error:  # any failure is a finding of the load test, not a crash of it
            results.fail(f"{endpoint}: {error}")
        else:
            results.add(endpoint, time.monotonic() - started)


def load_test(url: str, pid: int, clients: int, per_client: int, model: str, budget_s: float) -> dict:
    # Warm every endpoint once, so the memory baseline includes the loaded models.
    warm = Client(url, verbose=False)
    for endpoint, args, kwargs in requests_for(model):
        warm.predict(*args, api_name=endpoint, **kwargs)
    before = server_rss_mb(pid)
    results = Results()
    deadline = time.monotonic() + budget_s
    started = time.monotonic()
    threads = [threading.Thread(target=run_client, args=(url, per_client, deadline, model, i, results))
               for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    after = server_rss_mb(pid)
    served = sum(len(v) for v in results.latencies.values())
    return {"requested": clients * per_client, "served": served, "errors": results.errors,
            "seconds": elapsed, "rss_before_mb": before, "rss_after_mb": after, "latencies": results.latencies,
            "server_alive": Client(url, verbose=False).predict(api_name="/models") is not None}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(outcome: dict) -> str:
    lines = [f"{outcome['served']} of {outcome['requested']} requests served in {outcome['seconds']:.1f} s; "
             f"server memory {outcome['rss_before_mb']:.0f} MB -> {outcome['rss_after_mb']:.0f} MB "
             f"(bound: +{MEMORY_GROWTH_BOUND_MB} MB)", "",
             "| endpoint | requests | p50 s | p95 s |", "|---|---|---|---|"]
    for endpoint, values in sorted(outcome["latencies"].items()):
        lines.append(f"| {endpoint} | {len(values)} | {percentile(values, 50):.2f} | {percentile(values, 95):.2f} |")
    lines += [f"- error: {message}" for message in outcome["errors"]]
    return "\n".join(lines)


def passed(outcome: dict) -> bool:
    """Every request served, the server still answering, and memory within the bound (latency is only reported)."""
    grew = outcome["rss_after_mb"] - outcome["rss_before_mb"]
    return (outcome["served"] == outcome["requested"] and not outcome["errors"] and outcome["server_alive"]
            and grew <= MEMORY_GROWTH_BOUND_MB)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 clients × 3 requests (for CI)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=25, help="requests per client")
    parser.add_argument("--model", default="u2netp")
    parser.add_argument("--budget", type=float, default=900, help="seconds before clients give up")
    args = parser.parse_args()
    clients, per_client = QUICK if args.quick else (args.clients, args.requests)
    process, url, _ = launch_app()
    try:
        outcome = load_test(url, process.pid, clients, per_client, args.model, args.budget)
    finally:
        stop(process)
    print(report(outcome))
    return 0 if passed(outcome) else 1


if __name__ == "__main__":
    raise SystemExit(main())

