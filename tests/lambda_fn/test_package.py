"""What the container image holds: the handler's imports, pins, and the Dockerfile's contract."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s#]+)", line.strip())
        if m:
            pins[m.group(1).split("[")[0].lower()] = m.group(2)
    return pins


def test_lambda_requirements_are_minimal_and_agree_with_the_project():
    lam, project = _pins(ROOT / "lambda/requirements.txt"), _pins(ROOT / "requirements.txt")
    assert set(lam) == {"torch", "numpy", "pillow"}
    assert all(project[k] == v for k, v in lam.items())


def test_handler_imports_no_training_stack():
    code = (
        "import sys, json; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import handler; "
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "lambda"), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    modules = set(json.loads(out))
    assert {"serving", "torch", "PIL"} <= modules
    assert not modules & {"training", "lightning", "wandb", "gradio", "tensorboard", "boto3"}


def test_dockerfile_copies_what_the_handler_needs_and_pins_the_weights():
    text = (ROOT / "lambda/Dockerfile").read_text()
    assert "FROM public.ecr.aws/lambda/python:3.11" in text
    assert "pip install --no-cache-dir -r ${LAMBDA_TASK_ROOT}/requirements.txt" in text
    copies = ("COPY htr/ ", "COPY serving/ ", "COPY lambda/handler.py ")
    for copied in (*copies, "COPY lambda/requirements.txt "):
        assert copied in text
    assert "revision=os.environ['MODEL_REVISION']" in text
    assert 'CMD ["handler.handler"]' in text
    assert f"python:{sys.version_info.major}.{sys.version_info.minor}" in text
