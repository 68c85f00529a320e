"""Launching the real app on loopback, for the API tests, browser tests, load test and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout_s: float = 180) -> float:
    """Poll ``url`` until it answers 200; return the seconds that took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


def launch_app(extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str, float]:
    """Start ``python app.py`` on a free loopback port; return the process, its URL, and the start-up seconds."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", **(extra_env or {})}
    # The app's log goes to stderr (fd 2): a benchmark's stdout is its report.
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=2)
    url = f"http://127.0.0.1:{port}/"
    try:
        seconds = wait_for_http(url, process)
    except BaseException:
        process.kill()
        raise
    return process, url, seconds


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def timings(work: Callable[[], object], runs: int) -> list[float]:
    """Seconds taken by each of ``runs`` calls of ``work``."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return seconds


def best_of(runs: int, work: Callable[[], object], *, warm_up: bool = False) -> float:
    """The fastest of ``runs`` timed calls (after one untimed call, e.g. to compile shapes, when ``warm_up``)."""
    if warm_up:
        work()
    return min(timings(work, runs))
