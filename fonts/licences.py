"""Write fonts/LICENSES.md from the installed @fontsource packages (`make fonts` first).

`python fonts/licences.py` rewrites it; `--check` exits 1 when the committed file is stale.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "LICENSES.md"
LICENCE_URLS = {
    "OFL-1.1": "https://openfontlicense.org",
    "Apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0",
}
# google/fonts keeps each family in <licence folder>/<family name, lower case, no spaces>.
UPSTREAM = "https://github.com/google/fonts/tree/main/{folder}/{name}"
FOLDERS = {"OFL-1.1": "ofl", "Apache-2.0": "apache"}
HEADER = """# Handwriting fonts from npm

The synthetic line generator (`training/data/fonts.py`) draws with these fonts beside the Debian
ones (whose licences are in `/usr/share/doc/<package>/copyright`). `fonts/package.json` and
`fonts/package-lock.json` pin them; `make fonts` (part of `make setup`) installs them into
`fonts/node_modules` with `npm ci --ignore-scripts`. Each package carries its licence text in
`fonts/node_modules/<package>/LICENSE`. They are Google Fonts families (upstream: their folder of
the google/fonts repository, and the designers named in the copyright) packaged by Fontsource.

Of each package the generator reads one file, `files/<family>-latin-400-normal.woff`: the `latin`
subset (Basic Latin and Latin-1, so the French accents, with œŒ, € and curly quotes) at weight
400, normal style. A font is used only for lines whose every character it draws (none of these
has Ÿ, which is in `latin-ext`), and one lacking a French accent is not used at all. Regenerate
this file with `.venv/bin/python fonts/licences.py` after changing the list.

"""
COLUMNS = ("Family", "npm package", "Version", "Licence", "Copyright", "Upstream")


def _row(package: str) -> tuple[str, ...]:
    """One table row from an installed package's package.json and metadata.json."""
    folder = HERE / "node_modules" / package
    try:
        manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
        meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SystemExit(f"cannot read {folder}: {e}; run `make fonts` first") from e
    licence = manifest["license"]
    url = LICENCE_URLS.get(licence)
    if url is None:
        raise SystemExit(f"{package} is under {licence}, not OFL-1.1 or Apache-2.0: drop it")
    attribution = " ".join(meta["license"]["attribution"].split()).replace("|", "/")
    return (
        meta["family"],
        f"`{package}`",
        manifest["version"],
        f"[{licence}]({url})",
        attribution,
        UPSTREAM.format(folder=FOLDERS[licence], name=meta["family"].lower().replace(" ", "")),
    )


def render() -> str:
    """The whole of LICENSES.md for the packages pinned in package.json."""
    pinned = json.loads((HERE / "package.json").read_text(encoding="utf-8"))["dependencies"]
    rows = [COLUMNS, tuple("---" for _ in COLUMNS)] + [_row(p) for p in sorted(pinned)]
    table = "\n".join("| " + " | ".join(r) + " |" for r in rows)
    return f"{HEADER}{table}\n"


def main(argv: list[str] | None = None) -> int:
    """Write LICENSES.md, or with --check report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when LICENSES.md is stale")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    text = render()
    if args.check:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
            logging.error("%s is stale: run `python fonts/licences.py` and commit it", OUT)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    logging.info("wrote %s (%d packages)", OUT, text.count("`@fontsource/"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
