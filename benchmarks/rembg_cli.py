"""rembg's own command line (``rembg s``, ``rembg p``), the anchor the tests and benchmarks compare against.

``rembg[cli]==2.0.86`` pins FastAPI, python-multipart and uvicorn below the versions Gradio 6 needs, so it lives
in a virtualenv of its own (made once, beside the model store, under a lock), with the same onnxruntime as ours.
Its models come from our store (``U2NET_HOME``), so it never downloads one by itself.

    python -m benchmarks.rembg_cli          # make the virtualenv now; print the path of its `rembg`
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import venv
from pathlib import Path

from filelock import FileLock

from pipeline import models

REMBG_VERSION = "2.0.86"


def venv_dir() -> Path:
    return models.models_dir().parent / f"rembg-cli-{REMBG_VERSION}-venv"


def rembg_executable() -> Path:
    """The ``rembg`` command of the virtualenv, made (pip install) the first time it is asked for."""
    folder = venv_dir()
    executable = folder / "bin" / "rembg"
    if executable.exists():
        return executable
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if executable.exists():
            return executable
        venv.EnvBuilder(with_pip=True, clear=True).create(folder)
        onnxruntime = importlib.metadata.version("onnxruntime")
        subprocess.run([str(folder / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        f"rembg[cli]=={REMBG_VERSION}", f"onnxruntime=={onnxruntime}"], check=True)
    return executable


def rembg_env() -> dict[str, str]:
    """The environment for running rembg's command line: our store as its model folder, no analytics."""
    models.point_rembg_at_store()
    return {**os.environ, "U2NET_HOME": str(models.rembg_home()), "GRADIO_ANALYTICS_ENABLED": "False"}


if __name__ == "__main__":
    print(rembg_executable())
    sys.exit(0)
