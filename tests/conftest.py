"""Test-wide settings: no network clients, no analytics, loopback only."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Set before any client library is imported: otherwise they hang on DNS for minutes.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("WANDB_SILENT", "true")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_LINES = ROOT.parent / "shared" / "data" / "lines"
