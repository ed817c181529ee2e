"""`python -m htr read PATH... --out DIR`: the user's command (serving.folder does the work)."""

from __future__ import annotations

import sys

USAGE = (
    "usage: python -m htr read PATH... --out DIR [--format txt,json,page,alto] [--lines] "
    "[--model model.pt] [--api URL --concurrency N]\n"
    "`python -m htr read --help` says more\n"
)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the command named first; the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    if args[:1] != ["read"]:
        named = f"unknown command {args[0]!r}" if args else "no command given"
        sys.stderr.write(f"{named}; the command is `read`\n{USAGE}")
        return 2
    from serving.folder import main as read  # the one place htr/ reaches serving

    return read(args[1:])


if __name__ == "__main__":
    sys.exit(main())
