"""The Space as deployed: front matter, minimal requirements, and a bundle without training/."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _front_matter() -> dict:
    return yaml.safe_load((ROOT / "space/README.md").read_text().split("---")[1])


def test_front_matter_matches_the_pins():
    meta = _front_matter()
    pins = dict(re.findall(r"^([\w_]+)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == pins["gradio"]
    assert meta["python_version"] == f"{sys.version_info.major}.{sys.version_info.minor}"
    for key in ("title", "emoji", "app_file", "models", "license"):
        assert meta[key], key
    space_pins = dict(
        re.findall(r"^([\w_]+)==(\S+)", (ROOT / "space/requirements.txt").read_text(), re.M)
    )
    assert set(space_pins) == {"gradio", "torch", "numpy", "pillow", "huggingface_hub"}
    assert all(pins[k] == v for k, v in space_pins.items())


def test_bundle_runs_without_the_training_code(tmp_path):
    subprocess.run(["make", "-s", "space-bundle"], cwd=ROOT, check=True, capture_output=True)
    bundle = ROOT / "dist/space"
    assert (bundle / _front_matter()["app_file"]).is_file()
    code = (
        "import sys, json; import space.app as a; a.build(); "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=bundle,
        capture_output=True,
        text=True,
        env={"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    modules = set(yaml.safe_load(out.stdout.strip().splitlines()[-1]))
    assert {"space", "serving", "gradio"} <= modules and "training" not in modules
