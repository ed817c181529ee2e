"""`python -m experiments.finetune`: 50 lines of a document learned, the rest scored."""

import json

from experiments import finetune


def test_scores_each_documents_other_lines_before_and_after(
    tiny_model_file, doc_shard, tmp_path, monkeypatch
):
    # four documents of two lines each: learn the first, score the other
    doc_shard(tmp_path / "poilus-val-000.tar", 4)
    doc_shard(tmp_path / "hooker-val-000.tar", 4)  # a source the model trained on: skipped
    monkeypatch.setattr(finetune, "LINES", tmp_path)
    monkeypatch.setattr(finetune, "SHARDS", ("poilus-val", "hooker-val"))
    docs = finetune.documents({"hooker"}, min_lines=2, per_shard=3)
    assert [(s, d, len(lines)) for s, d, lines in docs] == [
        ("poilus-val", f"d{i}", 2) for i in range(3)
    ]
    out = tmp_path / "finetune.json"
    argv = ["--model", str(tiny_model_file), "--first", "1", "--min-lines", "2", "--per-shard", "3"]
    assert (
        finetune.main([*argv, "--docs", "2", "--steps", "3", "--minutes", "1", "--out", str(out)])
        == 0
    )
    r = json.loads(out.read_text())
    assert [row["document"] for row in r["documents"]] == ["d0", "d1"]
    row = r["documents"][0]
    assert row["train_lines"] == 1 and row["scored_lines"] == 1 and row["steps"] == 3
    assert 0 <= row["before"]["cer"] and 0 <= row["after"]["cer"]
    assert r["summary"]["documents"] == 2
    more = ["--docs", "5", "--shards", "poilus-val", "--append", "--steps", "1", "--out", str(out)]
    assert finetune.main([*argv, *more]) == 0  # only the document not yet scored is added
    rows = json.loads(out.read_text())["documents"]
    assert [row["document"] for row in rows] == ["d0", "d1", "d2"]
