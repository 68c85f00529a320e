"""A real two-node Ray cluster on loopback, for the tests and the batch benchmark.

Ray advertises and dials the machine's own network address unless it runs where loopback is the only network, so
the cluster lives in namespaces of its own (``unshare``): a network namespace with just ``lo`` up, and a PID
namespace, so that ``ray stop`` there sees only this cluster's processes and everything in it dies with it (on a
timeout or a failed test too: the namespace's first process is killed, and the kernel kills the rest). Models must
be in the store before: the namespace has no network.

    run_in_cluster(["python", "-m", "pipeline", "cutout", ..., "--ray", "127.0.0.1:6390"], port=6390)
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def namespaces_available() -> bool:
    """Whether this user can make network and PID namespaces (root, or unprivileged user namespaces)."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "-p", "-f", "-m", "--mount-proc", "sh", "-c", "ip link set lo up"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


def worker_node_raylets() -> list[int]:
    """PIDs of the raylets of the cluster's non-head nodes (call from inside the namespace)."""
    import psutil

    return [process.pid for process in psutil.process_iter(["name", "cmdline"])
            if process.info["name"] == "raylet" and "--head" not in (process.info["cmdline"] or [])]


def kill_worker_node() -> int:
    """SIGKILL a non-head node's raylet and every process under it (its actors); the number of processes killed."""
    import psutil

    killed = 0
    for pid in worker_node_raylets()[:1]:
        raylet = psutil.Process(pid)
        for process in [*raylet.children(recursive=True), raylet]:
            try:
                process.send_signal(signal.SIGKILL)
                killed += 1
            except psutil.NoSuchProcess:
                pass
    return killed


def run_in_cluster(command: Sequence[str], *, port: int = 6390, nodes: int = 2, cpus_per_node: int = 1,
                   timeout: float = 900, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Start a head and ``nodes - 1`` worker nodes on 127.0.0.1 in fresh namespaces, run ``command`` there, stop all.

    The command sees ``RAY_ADDRESS=127.0.0.1:<port>``; its output is returned (text), Ray's logs stay in a temporary
    folder that is removed afterwards.
    """
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    start = f"ray start --num-cpus={cpus_per_node} --disable-usage-stats"
    script = "\n".join([
        "ip link set lo up",
        f"{start} --head --port={port} --include-dashboard=false --temp-dir={temp_dir} >{temp_dir}/head.log 2>&1"
        f" || {{ cat {temp_dir}/head.log; exit 97; }}",
        *[f"{start} --address=127.0.0.1:{port} >{temp_dir}/node{index}.log 2>&1"
          f" || {{ cat {temp_dir}/node{index}.log; exit 98; }}" for index in range(1, nodes)],
        f"RAY_ADDRESS=127.0.0.1:{port} {shlex.join(command)}",
        "status=$?",
        "ray stop --force >/dev/null 2>&1",
        "exit $status",
    ])
    environment = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    process = subprocess.Popen(["unshare", "-n", "-p", "-f", "-m", "--mount-proc", "--kill-child", "sh", "-c", script],
                               cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()  # unshare: --kill-child takes the namespace's first process, and the kernel the rest
        output, _ = process.communicate()
        raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)
    return subprocess.CompletedProcess(process.args, process.returncode, output, "")
