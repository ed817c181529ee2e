"""The character set: defined here once, saved with every model."""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Iterable

# Printable ASCII (space included) plus French letters and the typographic marks that French
# and English writers use; a few Spanish letters occur in the Copiste lines, so they stay in.
ASCII = string.digits + string.ascii_letters + string.punctuation + " "
FRENCH = "àâäæçéèêëîïôöœùûüÿÀÂÄÆÇÉÈÊËÎÏÔÖŒÙÛÜŸ"
EXTRA = "«»‘’“”€£°áíóñÁÍÓÑ"
CHARSET = "".join(sorted(set(ASCII + FRENCH + EXTRA)))

# Typographic variants mapped to what the model predicts, so "curly" and "straight" agree.
NORMALIZE = str.maketrans(
    {
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\t": " ",
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
    }
)


def normalize_text(text: str) -> str:
    """Map typographic variants onto the character set and collapse runs of spaces."""
    return " ".join(text.translate(NORMALIZE).split())


class Charset:
    """Maps characters to CTC class indices; index 0 is the CTC blank."""

    def __init__(self, chars: str = CHARSET) -> None:
        if len(set(chars)) != len(chars):
            raise ValueError(f"charset has duplicate characters: {chars!r}; list each once")
        self.chars = chars
        self._index = {c: i + 1 for i, c in enumerate(chars)}

    def __len__(self) -> int:
        """Number of classes including the blank."""
        return len(self.chars) + 1

    def __contains__(self, ch: str) -> bool:
        return ch in self._index

    def encode(self, text: str) -> list[int]:
        """Class indices of the characters of `text` that are in the set (others dropped)."""
        return [self._index[c] for c in text if c in self._index]

    def decode(self, indices: Iterable[int]) -> str:
        """Text of a sequence of class indices (no CTC collapsing; 0 is skipped)."""
        return "".join(self.chars[i - 1] for i in indices if i > 0)

    def unknown(self, text: str) -> Counter[str]:
        """Characters of `text` outside the set, with counts (reported, never silently lost)."""
        return Counter(c for c in text if c not in self._index)
