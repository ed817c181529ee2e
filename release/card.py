"""The model card: Hub metadata and text, filled from config.json and eval.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from htr.atomic import write_text
from training.val_sets import summary

# Real sources that a model may be trained on, with the credit their licences ask for.
CREDITS = {
    "copiste": (
        "Copiste d'un jour (BAnQ): Wikipedia summaries copied by hand by 267 "
        "volunteers in 2024, https://github.com/banq-dcn/Copiste-d-un-jour",
        "cc-by-4.0",
    ),
    "hooker": (
        "Joseph Dalton Hooker's letters 1850-1911, "
        "https://github.com/jschaefer738b/JosephHookerHTR; images (c) RBG Kew",
        "cc-by-sa-4.0",
    ),
    "poilus": (
        "Testaments de Poilus, wills of French soldiers 1914-1918, "
        "https://github.com/HTR-United/CREMMA-AN-TestamentDePoilus",
        "cc-by-4.0",
    ),
    "cremma18": (
        "CREMMA-MSS-18, 18th-century manuscripts, https://github.com/HTR-United/CREMMA-MSS-18",
        "cc-by-4.0",
    ),
    "cremma19": (
        "CREMMA-MSS-19, 19th-century letters, drafts and poems, "
        "https://github.com/HTR-United/CREMMA-MSS-19",
        "cc-by-4.0",
    ),
    "cremma20": (
        "CREMMA-MSS-20, a 20th-century letter and Robert Badinter's drafts, "
        "https://github.com/HTR-United/CREMMA-MSS-20",
        "cc-by-4.0",
    ),
    "lectaurep": (
        "LECTAUREP, Paris notaries' registers 1830-1939, "
        "https://github.com/HTR-United/lectaurep-repertoires",
        "cc-by-4.0",
    ),
}
# The real page shards a line finder trains on when its data.pages folder is present.
PAGE_SOURCES = ("copiste", "hooker", "poilus", "cremma19", "lectaurep")
SYNTHETIC = (
    "Synthetic lines rendered by this project's generator from handwriting-style fonts "
    "of Debian packages (OFL and GPL with font exception) and of npm `@fontsource` packages "
    "(OFL-1.1 and Apache-2.0, listed in the project's `fonts/LICENSES.md`) and text from "
    "Debian `dasher-data` and `wordfreq` (CC-BY-SA 4.0 data)."
)


def _real_sources(config: dict[str, Any]) -> list[str]:
    names = {s["name"] for s in config.get("data_sources", [])}
    if _finder_pages(config):
        names |= set(PAGE_SOURCES)
    return [k for k in CREDITS if any(k in n for n in names)]


def _finder_pages(config: dict[str, Any]) -> str:
    """The real page folder the file's line finder trained on ('' without a finder)."""
    finder = config.get("finder") or {}
    return str(finder.get("training_config", {}).get("data", {}).get("pages", "") or "")


def pages_text(config: dict[str, Any]) -> str:
    """What the card says about reading whole pages: the finder, or the lack of one."""
    finder = config.get("finder")
    if not finder:
        return (
            "It does not find lines on a page: segment pages first (for example with kraken) "
            "and send each line."
        )
    real = " and the real pages of the sources below" if _finder_pages(config) else ""
    return (
        "It also reads whole pages: `model.read_page(image)` finds the lines with a fully "
        f"convolutional line finder ({finder['parameters']:,} parameters, trained on synthetic "
        f"pages{real}), reads them and returns each line's polygon, baseline, text and "
        "confidence in reading order; `model.find_lines(image)` returns the lines alone."
    )


def licence(config: dict[str, Any]) -> str:
    """Share-alike data makes the weights share-alike; otherwise Apache-2.0 like the code."""
    return "cc-by-sa-4.0" if "hooker" in _real_sources(config) else "apache-2.0"


def headline(evaluation: dict[str, Any]) -> dict[str, Any]:
    """eval.json's summary, computed from its sets (files older than the summary have none)."""
    return summary({k: r["cer"] for k, r in evaluation.get("sets", {}).items()})


def _unseen_result(evaluation: dict[str, Any]) -> list[EvalResult]:
    """The unseen-writer CER as a model-index entry of its own, when every set it needs is in."""
    s = headline(evaluation)
    if s["unseen_writer_cer"] is None:
        return []
    return [
        EvalResult(
            task_type="image-to-text",
            task_name="Handwritten text line recognition",
            dataset_type="unseen-writers",
            dataset_name="unseen writers: mean of " + ", ".join(s["sets"]),
            metric_type="cer",
            metric_value=s["unseen_writer_cer"],
            metric_name="CER (unseen writers)",
        )
    ]


def front_matter(config: dict[str, Any], evaluation: dict[str, Any], name: str) -> ModelCardData:
    """Hub metadata, with a model-index whose numbers come from eval.json only."""
    results = _unseen_result(evaluation) + [
        EvalResult(
            task_type="image-to-text",
            task_name="Handwritten text line recognition",
            dataset_type=set_name,
            dataset_name=set_name,
            metric_type=metric,
            metric_value=r[metric],
            metric_name=metric.upper(),
        )
        for set_name, r in evaluation.get("sets", {}).items()
        for metric in ("cer", "wer")
    ]
    return ModelCardData(
        library_name="pytorch",
        pipeline_tag="image-to-text",
        license=licence(config),
        language=["fr", "en"],
        tags=["handwriting-recognition", "htr", "ocr", "ctc", "torchscript"],
        datasets=_real_sources(config) or ["synthetic"],
        metrics=["cer", "wer"],
        model_name=name,
        eval_results=results,
    )


def _pct(cer: float) -> str:
    """A rate as the card writes it: a percentage to one decimal."""
    return f"{100 * cer:.1f}%"


def _seen_text(config: dict[str, Any], s: dict[str, Any]) -> str:
    """The seen writer's CER (and the sets beside), saying whether this model read that hand."""
    text = ""
    if s["seen_writer_cer"] is not None:
        read = (
            "other letters of the writer whose letters it was trained on"
            if "hooker" in _real_sources(config)
            else "one writer's letters; this model was not trained on any of them"
        )
        text += f" Seen writer: {s['seen_sets'][0]} {_pct(s['seen_writer_cer'])} ({read})."
    beside = [f"{n} {_pct(cer)}" for n, cer in s["beside"].items()]
    if beside:
        text += f" Beside them, outside the mean: {', '.join(beside)} (18th-century hands)."
    return text


def headline_text(config: dict[str, Any], evaluation: dict[str, Any]) -> str:
    """The unseen-writer CER first, with the sets it averages and the seen writer's CER."""
    if not evaluation.get("sets"):
        return ""
    s = headline(evaluation)
    sets = ", ".join(s["sets"][:-1]) + " and " + s["sets"][-1]
    if s["unseen_writer_cer"] is None:
        text = (
            f"**Unseen-writer CER: not measured.** It is the unweighted mean CER of {sets}, "
            f"and this evaluation lacks {', '.join(s['missing'])}."
        )
    else:
        text = (
            f"**Unseen-writer CER: {_pct(s['unseen_writer_cer'])}**, the unweighted mean of the "
            f"character error rates on {sets}: writers whose pages it never trained on."
        )
    return text + _seen_text(config, s) + "\n\n"


def results_table(evaluation: dict[str, Any]) -> str:
    """Markdown table of CER/WER per set."""
    rows = ["| set | lines | CER | WER |", "|---|---|---|---|"]
    for name, r in evaluation.get("sets", {}).items():
        rows.append(f"| {name} | {r['lines']} | {100 * r['cer']:.1f}% | {100 * r['wer']:.1f}% |")
    if len(rows) == 2:
        return "No evaluation has been run."
    beam = evaluation.get("beam")  # absent in eval.json files older than `evaluate --beam`
    if beam is None:
        return "\n".join(rows)
    how = "best-path decoding, no LM" if beam == 0 else f"the LM beam search, beam {beam}"
    return "\n".join(rows) + f"\n\nScored with {how} (`python -m release.evaluate`)."


def decoding(config: dict[str, Any]) -> str:
    """How the file turns network outputs into text, and what its language model read."""
    d = config.get("decode", {})
    net = (
        " The network runs in bfloat16 where oneDNN supports it (float32 elsewhere); "
        "`model.set_bf16(False)` runs it in float32 everywhere."
        if d.get("bf16")  # absent in files older than decode.bf16: float32
        else ""
    )
    if not d.get("beam"):
        return "Best-path (greedy) CTC decoding; no language model." + net
    read = []
    if "dasher" in d["corpora"]:
        read.append("the English and French training texts of Debian `dasher-data` (GPL-2+)")
    if "gcide" in d["corpora"]:
        read.append(
            "the definitions and quotations of the Collaborative International Dictionary of "
            "English (GCIDE, from Webster's 1913; Debian `dict-gcide`, GPL-2+)"
        )
    if "transcriptions" in d["corpora"]:
        read.append("the transcriptions of the training lines (never a validation line)")
    texts = " and ".join([", ".join(read[:-1]), read[-1]] if len(read) > 1 else read)
    return (
        f"CTC prefix beam search (beam {d['beam']}) with a character {d['order']}-gram "
        f"language model ({config.get('lm_entries', 0):,} entries, weight {d['alpha']}, "
        f"{d['beta']} per character) learned from {texts}. "
        "`model.set_beam(0)` switches a loaded model to best-path decoding: faster, no LM." + net
    )


def preprocessing(config: dict[str, Any]) -> str:
    """What the file does to a line's pixels before the network sees them."""
    arch = config["architecture"]
    steps = "alpha on white; polarity normalised; "
    if arch.get("crop"):
        steps += "cropped to the box around the ink; "
    scale = arch.get("x_scale", 1.0)
    squeeze = "" if scale == 1.0 else f", then its width times {scale}"
    return steps + f"scaled to {config['input_height']} px high{squeeze}"


def _fill(template: str, **values: object) -> str:
    """Replace `{key}` placeholders only (a literal brace elsewhere in the card is kept)."""
    for key, value in values.items():
        template = template.replace("{" + key + "}", str(value))
    return template


def render(
    config: dict[str, Any],
    evaluation: dict[str, Any],
    *,
    name: str,
    repo_id: str,
    revision: str,
    body: str,
) -> str:
    """The full README.md of the model repo."""
    arch = config["architecture"]
    data = [f"- {SYNTHETIC}"] + [
        f"- {CREDITS[k][0]} (licence {CREDITS[k][1].upper()})." for k in _real_sources(config)
    ]
    text = _fill(
        body,
        name=name,
        repo_id=repo_id,
        revision=revision,
        version=config["version"],
        architecture=arch["type"],
        parameters=f"{arch['parameters']:,}",
        charset_size=len(config["charset"]),
        preprocessing=preprocessing(config),
        headline=headline_text(config, evaluation),
        results_table=results_table(evaluation),
        data_section="\n".join(data),
        decoding=decoding(config),
        pages=pages_text(config),
        git_commit=config["git_commit"],
    )
    meta = front_matter(config, evaluation, name).to_yaml()
    # Parsing the card back is the Hub library's own check that the model-index is valid.
    return str(ModelCard(f"---\n{meta}\n---\n\n{text}"))


def write_card(repo: Path, *, name: str, repo_id: str, revision: str) -> Path:
    """Fill model_repo/README.md from config.json, eval.json and the body template."""
    import json

    config = json.loads((repo / "config.json").read_text(encoding="utf-8"))
    eval_file = repo / "eval.json"
    evaluation = json.loads(eval_file.read_text(encoding="utf-8")) if eval_file.exists() else {}
    body = (repo / "card_body.md").read_text(encoding="utf-8")
    out = repo / "README.md"
    write_text(
        out,
        render(config, evaluation, name=name, repo_id=repo_id, revision=revision, body=body),
    )
    return out
