"""Text that resembles what people write: sentences, words, names, numbers and dates."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from training.data.charset import normalize_text

log = logging.getLogger(__name__)

# Debian `dasher-data` ships real English and French sentences (installed by `make setup`).
SENTENCE_FILES = {
    "en": Path("/usr/share/dasher/training_english_GB.txt"),
    "fr": Path("/usr/share/dasher/training_french_FR.txt"),
}
FIRST_NAMES = (
    "Marie Jean Pierre Louise Anne Paul Camille Hélène Joseph Émile Zoë Noël Chloé "
    "Thomas William Mary John Elizabeth George Charles Alice Henry Margaret"
).split()
LAST_NAMES = (
    "Martin Bernard Dubois Lefèvre Côté Gagnon Tremblay Bélanger Hooker Darwin Smith "
    "Brown Taylor Wilson Lévesque Bouchard Roy Moreau Fournier Müller"
).split()
MONTHS = {
    "en": "January February March April May June July August September October November "
    "December".split(),
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre "
    "décembre".split(),
}
PUNCT = (".", ",", ";", ":", "!", "?", " -", "...")


@lru_cache(maxsize=4)
def sentences(lang: str) -> tuple[str, ...]:
    """Sentences of the Debian dasher corpus for `lang`; empty when it is not installed."""
    path = SENTENCE_FILES[lang]
    if not path.exists():
        log.warning("%s missing (Debian dasher-data): using word lists only", path)
        return ()
    text = path.read_text(encoding="utf-8", errors="replace")
    return tuple(s for s in (normalize_text(x) for x in text.splitlines()) if len(s) > 8)


@lru_cache(maxsize=4)
def words(lang: str) -> tuple[tuple[str, ...], np.ndarray]:
    """The 30k most frequent words of `lang` (wordfreq) and their cumulative probabilities."""
    import wordfreq  # loads its data files on first use only

    freqs = wordfreq.get_frequency_dict(lang)
    top = sorted(((f, w) for w, f in freqs.items() if w.isprintable()), reverse=True)[:30000]
    p = np.array([f for f, _ in top]) ** 0.5  # flatten Zipf: rare words matter for reading
    return tuple(w for _, w in top), np.cumsum(p / p.sum())


class TextSampler:
    """Draws one line of text from a mixture of sources; all randomness comes from `rng`."""

    def __init__(self, max_chars: int = 64) -> None:
        self.max_chars = max_chars

    def __call__(self, rng: np.random.Generator) -> str:
        lang = "fr" if rng.random() < 0.5 else "en"
        kind = rng.choice(4, p=[0.5, 0.3, 0.1, 0.1])
        make = (self._sentence, self._words, self._name_date, self._numbers)[kind]
        text = normalize_text(make(rng, lang))
        return text[: self.max_chars].strip() or "a"

    def _length(self, rng: np.random.Generator) -> int:
        # Real lines hold 2 to 70 characters, most around 30 to 50.
        return int(np.clip(rng.normal(36, 14), 2, self.max_chars))

    def _sentence(self, rng: np.random.Generator, lang: str) -> str:
        pool = sentences(lang)
        if not pool:
            return self._words(rng, lang)
        text = pool[rng.integers(len(pool))]
        n = self._length(rng)
        start = 0 if len(text) <= n or rng.random() < 0.3 else int(rng.integers(len(text) - n))
        chunk = text[start:]
        if start:  # begin at a word boundary, as a line of a page does
            chunk = chunk.split(" ", 1)[-1]
        return chunk[:n].rsplit(" ", 1)[0] if len(chunk) > n else chunk

    def _words(self, rng: np.random.Generator, lang: str) -> str:
        vocab, cdf = words(lang)
        n = self._length(rng)
        out: list[str] = []
        while sum(len(w) + 1 for w in out) < n:
            w = vocab[min(int(np.searchsorted(cdf, rng.random())), len(vocab) - 1)]
            r = rng.random()
            w = w.capitalize() if r < 0.15 else w.upper() if r < 0.18 else w
            out.append(w + (PUNCT[rng.integers(len(PUNCT))] if rng.random() < 0.12 else ""))
        return " ".join(out)

    def _name_date(self, rng: np.random.Generator, lang: str) -> str:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        day, month, year = rng.integers(1, 29), rng.choice(MONTHS[lang]), rng.integers(1700, 2030)
        forms = [
            f"{name}, {day} {month} {year}",
            f"{day}/{rng.integers(1, 13)}/{year}",
            f"le {day} {month} {year}" if lang == "fr" else f"{month} {day}, {year}",
            f"{rng.choice(LAST_NAMES).upper()} {name.split()[0]}",
        ]
        return str(forms[rng.integers(len(forms))])

    def _numbers(self, rng: np.random.Generator, lang: str) -> str:
        a, b = rng.integers(0, 10000, size=2)
        forms = [
            f"{a} {rng.choice(['£', '€', '$', '%', '°', 'kg', 'm'])}",
            f"n° {a}-{b}",
            f"({a}) {b}",
            f"{a},{b % 100:02d} €" if lang == "fr" else f"${a}.{b % 100:02d}",
            f"{a / 7:.3f}",
            f"#{a} & {b}",
            f"{a}+{b}={a + b}",
            f"[{a}] {{{b}}} <{a % 97}>",
        ]
        return str(forms[rng.integers(len(forms))])
