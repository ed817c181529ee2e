"""Corrections from users, kept as a kraken-style line folder (NAME.png + NAME.gt.txt)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from PIL import Image

from htr.atomic import write_text, write_with
from space.readings import Reading

FEEDBACK_DIR = Path(os.environ.get("HTR_FEEDBACK_DIR", "feedback"))


def save(reading: Reading, rid: str, corrected: str, folder: Path | None = None) -> Path:
    """Store one correction with exactly the image, prediction and model that were read.

    Each file is written atomically and the transcription last, so the line counts once it is
    complete. The folder reads back with training.data.kraken.read_kraken_dir, so corrections
    can become training data (`--data.sources '[{uri: feedback, format: kraken}]'`).
    """
    folder = folder or FEEDBACK_DIR
    text = " ".join(corrected.split())
    if not text:
        raise ValueError("the correction is empty; type the text the image really shows")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{rid[:12]}"
    grey = Image.fromarray(reading.image)  # already grey on white paper
    write_with(folder / f"{name}.png", lambda p: grey.save(p, format="PNG"))
    meta = {
        "reading_id": rid,
        "image_sha256": reading.digest,
        "predicted": reading.text,
        "confidence": reading.confidence,
        "model": reading.model,
        "revision": reading.revision,
        "read_at": reading.at,
        "corrected": text,
        "time": time.time(),
    }
    write_text(folder / f"{name}.json", json.dumps(meta, ensure_ascii=False))
    write_text(folder / f"{name}.gt.txt", text + "\n")
    return folder / f"{name}.png"
