"""Corrections from users, kept as a kraken-style line folder (NAME.png + NAME.gt.txt)."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

from htr.atomic import write_text, write_with

FEEDBACK_DIR = Path(os.environ.get("HTR_FEEDBACK_DIR", "feedback"))


def save(image: np.ndarray, predicted: str, corrected: str, folder: Path | None = None) -> Path:
    """Append one corrected line: image, transcription and provenance, each written atomically.

    The folder reads back with training.data.kraken.read_kraken_dir, so corrections can become
    training data (`--data.sources '[{uri: feedback, format: kraken}]'`).
    """
    folder = folder or FEEDBACK_DIR
    text = " ".join(corrected.split())
    if not text:
        raise ValueError("the correction is empty; type the text the image really shows")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    grey = Image.fromarray(image).convert("L")
    write_with(folder / f"{name}.png", lambda p: grey.save(p, format="PNG"))
    meta = {"predicted": predicted, "corrected": text, "time": time.time()}
    write_text(folder / f"{name}.json", json.dumps(meta))
    write_text(folder / f"{name}.gt.txt", text + "\n")  # last: the line counts once complete
    return folder / f"{name}.png"
