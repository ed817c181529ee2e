"""Render the Space's example images with the project's own generator (a dev-time tool).

`python -m space.make_examples` writes space/examples/*.png; the Space itself never imports
training/.
"""

from __future__ import annotations

import sys
from pathlib import Path

from training.data.synthetic import SyntheticConfig, SyntheticLines

OUT = Path(__file__).resolve().parent / "examples"
PICKS = {"example-1.png": 7, "example-2.png": 21, "example-3.png": 40}  # seed-0 line indices


def main() -> int:
    """Render the picked lines of seed 0 at 64 px, the height of the real data."""
    gen = SyntheticLines(SyntheticConfig(height=64, clean=0.0), seed=0)
    OUT.mkdir(exist_ok=True)
    from PIL import Image

    for name, index in PICKS.items():
        line = gen[index]
        Image.fromarray(line.image).save(OUT / name, optimize=True)
        (OUT / name).with_suffix(".txt").write_text(line.text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
