"""English prose of the 1913 Webster's (GCIDE, Debian dict-gcide) as text for the LM.

Its definitions and quotations are written in the English of the letters we read (Hooker's,
1840s-1900s), and its botany fills them: genus names, leaves, species. Only the prose is kept:
headword lines (pronunciation markup), etymologies in brackets, source tags and synonym lists
are dropped.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from training.data.charset import normalize_text

log = logging.getLogger(__name__)
GCIDE = Path("/usr/share/dictd/gcide.dict.dz")  # dictzip: gzip-compatible
_BRACKETS = re.compile(r"\[[^\]]*\]")  # etymologies and [1913 Webster] tags
_AUTHOR = re.compile(r"--\s?[A-Z][\w.&' ]*?\.(?=\s|$)")  # "--Shak." after a quotation
_SENSE = re.compile(r"^(\(?\d+\.|\([a-z]\))\s*")  # "1. " or "(a) " before a sense
_SENTENCE = re.compile(r"(?<=[.;?!])\s+")


def _paragraphs(lines: Iterator[str]) -> Iterator[str]:
    """Indented text between blank or headword lines, each joined into one string."""
    para: list[str] = []
    header = False  # the database's own entries (00-database-url, ...) are not prose
    for line in lines:
        s = line.strip()
        if not line.startswith(" ") or not s or s.startswith(("Syn:", "Note:")):
            if para:
                yield " ".join(para)
            para = []
            if s and not line.startswith(" "):
                header = s.startswith("00-")
            if line.startswith(" ") and s.startswith("Note:"):
                para = [s[5:]]  # usage notes are prose; synonym lists are not
            continue
        if not header:
            para.append(s)
    if para:
        yield " ".join(para)


def clean(paragraph: str) -> str:
    """A paragraph without markup: brackets, braces, sources and sense numbers removed."""
    close, start = paragraph.find("]"), paragraph.find("[")
    if close >= 0 and not 0 <= start < close:  # the tail of the headword line's etymology
        paragraph = paragraph[close + 1 :]
    p = _AUTHOR.sub("", _BRACKETS.sub("", paragraph)).replace("{", "").replace("}", "")
    return " ".join(_SENSE.sub("", p.strip()).split())


@lru_cache(maxsize=1)
def sentences(path: Path = GCIDE) -> tuple[str, ...]:
    """The dictionary's prose, a sentence a line; empty when it is not installed."""
    if not path.exists():
        log.warning("%s missing (Debian dict-gcide): the LM learns without it", path)
        return ()
    out = []
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        for para in _paragraphs(f):
            text = clean(para)
            if "\\" in text or "<" in text:  # pronunciation or markup that escaped a rule
                continue
            out.extend(s for s in (normalize_text(x) for x in _SENTENCE.split(text)) if len(s) > 8)
    return tuple(out)
