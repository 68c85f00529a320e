"""Shared fixtures: the launched app, the evaluation sets beside the project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.harness import launch_app, stop

ROOT = Path(__file__).resolve().parent.parent
EVAL_DIR = ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """One launched app shared by the API and browser tests."""
    process, url, _ = launch_app()
    yield url
    stop(process)


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    if not EVAL_DIR.is_dir():
        pytest.skip(f"evaluation data not found at {EVAL_DIR}")
    return EVAL_DIR
