"""The real validation sets by writer, and the unseen-writer CER: the project's headline figure.

One definition for training (`val/cer/unseen_writers`), `release.evaluate` (eval.json's
summary) and the model card. Set names are those of the shards: `copiste-val-000.tar` is
`copiste-val`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Documents split off from their training shards, in hands other than the one the model reads
# most of: the headline figure is the unweighted mean CER of exactly these sets.
UNSEEN_WRITER_SETS = ("copiste-val", "poilus-val", "cremma19-val", "lectaurep-val")
# Reported beside the mean, never in it: 18th-century letterforms and spelling.
BESIDE = ("cremma18-val",)
# Other letters of the one writer whose letters the model trains on.
SEEN = ("hooker-val",)
REAL_VAL_SETS = UNSEEN_WRITER_SETS + BESIDE + SEEN


def unseen_writer_cer(cers: Mapping[str, float]) -> tuple[float | None, list[str]]:
    """Mean CER of exactly UNSEEN_WRITER_SETS in `cers`, or None and the names it lacks."""
    missing = [name for name in UNSEEN_WRITER_SETS if name not in cers]
    if missing:
        return None, missing
    return sum(cers[name] for name in UNSEEN_WRITER_SETS) / len(UNSEEN_WRITER_SETS), []


def summary(cers: Mapping[str, float]) -> dict[str, Any]:
    """The headline figures of per-set CERs: unseen-writer mean, seen writer and sets beside."""
    mean, missing = unseen_writer_cer(cers)
    return {
        "unseen_writer_cer": None if mean is None else round(mean, 4),
        "sets": list(UNSEEN_WRITER_SETS),
        "missing": missing,
        "seen_writer_cer": cers.get(SEEN[0]),
        "seen_sets": list(SEEN),
        "beside": {name: cers[name] for name in BESIDE if name in cers},
    }
