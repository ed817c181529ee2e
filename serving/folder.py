"""`python -m htr read`: folders of scans read into text, JSON, PAGE-XML and ALTO files.

Each image is read as a page (serving.pages with the local model file, or the API with --api)
or, with --lines, as one text line. Outputs mirror the inputs' names under --out; an image whose
outputs all exist is skipped, so an interrupted run resumes where it stopped. A file that fails
is logged with its reason and the batch goes on. Exit status: 0 when every image was read, 1
when some failed, 2 for a usage error (nothing read).
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from htr.atomic import write_text
from htr.errors import UserError
from serving import model as model_store
from serving.errors import ServingError
from serving.images import MAX_BYTES, PAGE_REMEDY, decode_image
from serving.page_formats import FORMATS, to_json
from serving.pages import MAX_PAGE_PIXELS, read_page, reads_pages
from serving.recognize import recognize
from serving.remote import post_json

log = logging.getLogger("htr.read")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")
LINE_FORMATS = {"txt": ".txt", "json": ".json"}  # a line has no geometry for page or alto
SINGLE = {"preds": "pred", "confidences": "confidence", "words": "words", "unsure": "unsure"}
Reader = Callable[[Path], dict[str, Any]]


@dataclass(frozen=True)
class Job:
    """One image and where its outputs go: `stem` plus each format's suffix."""

    image: Path
    stem: Path

    def output(self, suffix: str) -> Path:
        return self.stem.with_name(self.stem.name + suffix)


def parse_formats(text: str, lines: bool) -> dict[str, str]:
    """Format name -> output suffix, from "txt,json,page,alto"."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    known = LINE_FORMATS if lines else {k: suffix for k, (suffix, _) in FORMATS.items()}
    if lines and (refused := [n for n in names if n in ("page", "alto")]):
        raise UserError(
            f"--format {','.join(refused)} needs line geometry, which --lines does not give "
            "(each image is one line); use --format txt,json with --lines, or drop --lines"
        )
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise UserError(f"unknown --format {text!r}; choose from {','.join(known)}")
    return {name: known[name] for name in dict.fromkeys(names)}


def _images_under(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            yield path


def find_jobs(paths: Iterable[Path], out: Path) -> list[Job]:
    """Images named or found (recursively) under the paths, each with its output stem."""
    jobs: list[Job] = []
    for path in paths:
        if path.is_dir():
            found = [(p, p.relative_to(path).with_suffix("")) for p in _images_under(path)]
        elif path.is_file():  # named explicitly: read whatever its suffix
            found = [(path, Path(path.stem))]
        else:
            raise UserError(f"{path} does not exist; pass image files or folders of them")
        jobs.extend(Job(image, out / rel) for image, rel in found)
    if not jobs:
        names = " ".join(IMAGE_SUFFIXES)
        raise UserError(f"no images ({names}) in {' '.join(map(str, paths))}; pass other paths")
    by_stem: dict[Path, Path] = {}
    for job in jobs:
        if (other := by_stem.setdefault(job.stem, job.image)) != job.image:
            raise UserError(
                f"{other} and {job.image} would both write {job.stem}.*; rename one, or read "
                "them in separate runs with different --out folders"
            )
    return jobs


def _single(out: dict[str, Any]) -> dict[str, Any]:
    """A one-line result as the API answers it: each per-image list becomes its element."""
    return {SINGLE.get(k, k): v[0] if k in SINGLE else v for k, v in out.items()}


def _local_read(image: Path, lines: bool) -> dict[str, Any]:
    data = image.read_bytes()
    if lines:
        return _single(recognize([decode_image(data)]))
    return read_page(decode_image(data, MAX_PAGE_PIXELS, PAGE_REMEDY))


def _api_read(image: Path, url: str, lines: bool) -> dict[str, Any]:
    data = image.read_bytes()
    encoded = base64.b64encode(data).decode("ascii")
    if len(encoded) + 64 > MAX_BYTES:  # the request body, base64 and all, is what counts
        raise UserError(
            f"{len(data) / 2**20:.1f} MB is over what one API request carries "
            f"(about {MAX_BYTES * 3 // 4 // 2**20} MB of image); save it as JPEG or scale it "
            "down, or read it without --api"
        )
    field, needs = ("image", "pred") if lines else ("page", "lines")
    answer = post_json(url, {field: encoded})
    if needs not in answer:
        raise UserError(f'the API\'s answer has no "{needs}"; is --api the recognition API?')
    return answer


def local_reader(model_file: Path | None, lines: bool) -> Reader:
    """Read with the model file (--model, else HTR_MODEL_PATH), loaded once, here."""
    if model_file is not None:
        if not model_file.is_file():
            raise UserError(
                f"--model {model_file}: no such file; pass a model.pt exported by "
                "`python -m release.export`"
            )
        model_store.set_loader(partial(model_store.load, model_file))
    loaded = model_store.get()  # a missing or broken file is reported before any image
    if not lines and not reads_pages(loaded.module):
        raise UserError(
            f"{loaded.location or loaded.name} reads single lines only (no line finder); "
            "pass --lines to read each image as one line, or a model exported with "
            "`python -m release.export --finder`"
        )
    return partial(_local_read, lines=lines)


def _image_name(image: Path, folder: Path) -> str:
    """The image as the XML names it: relative to the XML's folder, so readers find it."""
    try:
        return Path(os.path.relpath(image.resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return image.name


def write_outputs(job: Job, result: dict[str, Any], formats: dict[str, str], lines: bool) -> None:
    """Each requested format beside the others, every file written atomically."""
    for name, suffix in formats.items():
        path = job.output(suffix)
        if lines:
            text = to_json(result) if name == "json" else f"{result.get('pred', '')}\n"
        else:
            text = FORMATS[name][1](result, _image_name(job.image, path.parent))
        write_text(path, text)


def _process(job: Job, read: Reader, formats: dict[str, str], lines: bool) -> str | None:
    """Read one image and write its outputs; the reason it failed, or None."""
    try:
        write_outputs(job, read(job.image), formats, lines)
    except (ServingError, UserError, OSError) as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - one odd file must not end a night's batch
        log.exception("%s: unexpected failure", job.image)
        return f"unexpected {type(e).__name__}: {e}"
    return None


def run(jobs: list[Job], work: Callable[[Job], str | None], concurrency: int) -> list[Job]:
    """Process the jobs, `concurrency` at once, with a progress bar; the jobs that failed."""
    failed: list[Job] = []

    def done(job: Job, error: str | None, bar: tqdm) -> None:
        if error is not None:
            log.error("%s: %s", job.image, error)
            failed.append(job)
        bar.update(1)

    with logging_redirect_tqdm(), tqdm(total=len(jobs), unit="image", file=sys.stderr) as bar:
        if concurrency <= 1:
            for job in jobs:
                done(job, work(job), bar)
        else:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                futures = {pool.submit(work, job): job for job in jobs}
                for future in as_completed(futures):
                    done(futures[future], future.result(), bar)
    return failed


def build_parser() -> argparse.ArgumentParser:
    """The options of `python -m htr read`."""
    p = argparse.ArgumentParser(
        prog="python -m htr read",
        description="Read scans of handwritten pages (or single lines) into text files.",
        epilog="Outputs per image: NAME.txt, NAME.json, NAME.xml (PAGE-XML), NAME.alto.xml. "
        "Exit status: 0 all read, 1 some failed, 2 usage error.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="images or folders")
    p.add_argument("--format", default="txt", help="comma-separated: txt,json,page,alto")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--lines", action="store_true", help="each image is one text line")
    p.add_argument("--model", type=Path, help="model.pt (default: $HTR_MODEL_PATH)")
    p.add_argument("--api", metavar="URL", help="read through this API instead of locally")
    p.add_argument("--concurrency", type=int, help="requests in flight with --api (default 4)")
    return p


def _reader(args: argparse.Namespace) -> Reader:
    if args.api:
        if args.model:
            raise UserError("--model and --api both given; the API reads with its own model")
        return partial(_api_read, url=args.api, lines=args.lines)
    if args.concurrency is not None:
        raise UserError("--concurrency applies to --api only; a local model reads one at a time")
    return local_reader(args.model, args.lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.concurrency is not None and args.concurrency < 1:
        parser.error(f"--concurrency {args.concurrency}: give 1 or more")
    try:
        formats = parse_formats(args.format, args.lines)
        jobs = find_jobs(args.paths, args.out)
        todo = [j for j in jobs if not all(j.output(s).exists() for s in formats.values())]
        read = _reader(args) if todo else None
    except (UserError, ServingError) as e:
        parser.error(str(e))
    failed = []
    if read is not None:
        work = partial(_process, read=read, formats=formats, lines=args.lines)
        failed = run(todo, work, args.concurrency or (4 if args.api else 1))
    skipped = len(jobs) - len(todo)
    sys.stdout.write(
        f"read {len(todo) - len(failed)} of {len(jobs)} images into {args.out}: "
        f"{len(failed)} failed, {skipped} skipped (outputs already there)\n"
    )
    return 1 if failed else 0
