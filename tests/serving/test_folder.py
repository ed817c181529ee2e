"""`python -m htr read` with the local model: folders of scans into txt/json/PAGE/ALTO."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from htr.__main__ import main
from training.data.pages import read_page_xml

ROOT = Path(__file__).resolve().parents[2]
ALL = "txt,json,page,alto"
SUFFIXES = (".txt", ".json", ".xml", ".alto.xml")


def _expected(*stems: str, suffixes=SUFFIXES) -> list[str]:
    return sorted(f"{stem}{suffix}" for stem in stems for suffix in suffixes)


def test_a_folder_with_a_broken_file_reads_the_rest_and_resumes(
    scans, tmp_path, fake_page_model, capsys, caplog, htr_read, outputs
):
    out = tmp_path / "out"
    with caplog.at_level(logging.ERROR):
        assert htr_read(str(scans), "--format", ALL, "--out", str(out)) == 1
    assert outputs(out) == _expected("good1", "sub/good2")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "broken.png" in errors[0] and "not a readable image" in errors[0]
    summary = capsys.readouterr().out
    assert "read 2 of 3 images" in summary and "1 failed, 0 skipped" in summary
    assert (out / "good1.txt").read_text(encoding="utf-8") == 'Le dzé réfléchi\na <&"> b\n'
    page = json.loads((out / "sub" / "good2.json").read_text(encoding="utf-8"))
    assert page["model"] == "fake-pages" and len(page["lines"]) == 2
    for xml in ("good1.xml", "good1.alto.xml"):  # the image found from the output folder
        assert [s.text for s in read_page_xml(out / xml)] == ["Le dzé réfléchi", 'a <&"> b']

    calls = []
    find = fake_page_model.find_lines
    fake_page_model.find_lines = lambda image: calls.append(1) or find(image)
    assert htr_read(str(scans), "--format", ALL, "--out", str(out)) == 1
    assert calls == []  # the two done images were not read again
    assert "2 skipped" in capsys.readouterr().out


def test_only_missing_formats_make_an_image_unfinished(
    scans, tmp_path, fake_page_model, capsys, htr_read, outputs
):
    out = tmp_path / "out"
    (scans / "broken.png").unlink()
    assert htr_read(str(scans), "--out", str(out)) == 0  # txt by default
    assert outputs(out) == _expected("good1", "sub/good2", suffixes=(".txt",))
    assert htr_read(str(scans / "good1.png"), "--format", "txt,alto", "--out", str(out)) == 0
    assert "read 1 of 1 images" in capsys.readouterr().out.splitlines()[-1]
    assert (out / "good1.alto.xml").is_file()


def test_lines_read_each_image_as_one_line(scans, tmp_path, fake_page_model, capsys, htr_read):
    out = tmp_path / "out"
    image = str(scans / "good1.png")
    assert htr_read(image, "--lines", "--format", "txt,json", "--out", str(out)) == 0
    assert (out / "good1.txt").read_text(encoding="utf-8") == "Le dzé réfléchi\n"
    line = json.loads((out / "good1.json").read_text(encoding="utf-8"))
    assert line["pred"] == "Le dzé réfléchi" and line["confidence"] == 0.75
    assert line["words"] == [["Le", 0.5], ["dzé", 0.5], ["réfléchi", 0.5]]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--lines", "--format", "txt,page"], "--format page needs line geometry"),
        (["--format", "txt,pdf"], "unknown --format"),
        (["--concurrency", "2"], "--concurrency applies to --api only"),
        (["--api", "http://127.0.0.1:9", "--concurrency", "0"], "give 1 or more"),
    ],
)
def test_usage_errors_exit_2_saying_what_to_do(scans, tmp_path, capsys, args, needle, htr_read):
    assert htr_read(str(scans), "--out", str(tmp_path / "out"), *args) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_paths_that_cannot_be_read_as_asked_exit_2(tmp_path, capsys, htr_read, write_png):
    out = ["--out", str(tmp_path / "out")]
    assert htr_read(str(tmp_path / "missing"), *out) == 2
    assert "does not exist" in capsys.readouterr().err
    write_png(tmp_path / "a" / "p.png")
    write_png(tmp_path / "a" / "p.jpg")
    assert htr_read(str(tmp_path / "a"), *out) == 2
    assert "would both write" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert htr_read(str(tmp_path / "empty"), *out) == 2
    assert "no images" in capsys.readouterr().err


def test_a_lines_only_or_missing_model_is_refused_before_any_image(
    scans, tmp_path, capsys, htr_read
):
    from serving import model

    lines_only = model.LoadedModel(module=object(), name="old", revision="r0", load_seconds=0.1)
    model.set_loader(lambda: lines_only)
    try:
        assert htr_read(str(scans), "--out", str(tmp_path / "out")) == 2
        assert "pass --lines" in capsys.readouterr().err
        assert htr_read(str(scans), "--out", str(tmp_path / "o"), "--model", "gone.pt") == 2
        assert "gone.pt" in capsys.readouterr().err
    finally:
        model.set_loader(None)
    assert not (tmp_path / "out").exists()


def test_the_command_line_entry_point(tmp_path):
    assert main([]) == 2 and main(["write"]) == 2 and main(["--help"]) == 0
    run = subprocess.run(
        [sys.executable, "-m", "htr", "read", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and "--concurrency" in run.stdout and "PATH" in run.stdout


def test_the_tiny_model_file_reads_a_folder_locally(
    scans, tmp_path, tiny_model_file, htr_read, outputs
):
    from serving import model

    (scans / "broken.png").unlink()
    out = tmp_path / "out"
    try:
        assert (
            htr_read(
                str(scans), "--format", ALL, "--out", str(out), "--model", str(tiny_model_file)
            )
            == 0
        )
    finally:
        model.set_loader(None)
    assert outputs(out) == _expected("good1", "sub/good2")
    page = json.loads((out / "good1.json").read_text(encoding="utf-8"))
    assert (page["width"], page["height"]) == (240, 160)
    lines = [line["text"] for line in page["lines"] if line["text"]]
    assert [s.text for s in read_page_xml(out / "good1.xml", strict=False)] == lines
