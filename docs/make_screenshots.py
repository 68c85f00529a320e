"""Regenerate the README's screenshots (docs/images/*.png) by running the browser tests against the real app.

    python docs/make_screenshots.py

Needs what the tests need: requirements-dev.txt, Debian's chromium and the models (see README.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"

if __name__ == "__main__":
    environment = {**os.environ, "BACKDROP_SCREENSHOTS": str(IMAGES)}
    command = [sys.executable, "-m", "pytest", "-q", "-m", "browser", "tests"]
    raise SystemExit(subprocess.call(command, cwd=ROOT, env=environment))
