"""Test-wide settings: no network clients, no analytics, loopback only."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

# Set before any client library is imported: otherwise they hang on DNS for minutes.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("WANDB_SILENT", "true")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_LINES = ROOT.parent / "shared" / "data" / "lines"


def _tiny_export(folder: Path) -> Path:
    """A small randomly initialised model.pt, exported through the real export path."""
    import torch

    from training.cli import apply_overrides, to_dict
    from training.config import preset
    from training.export import export
    from training.module import LitRecognizer

    cfg = apply_overrides(
        preset("quick"),
        {
            "model.height": 32,
            "data.height": 32,
            "model.channels": "8,16,16",
            "model.hidden": 32,
            "model.layers": 1,
            "log.wandb": "disabled",
        },
    )
    ckpt = folder / "tiny.ckpt"
    torch.save(
        {"state_dict": LitRecognizer(cfg).state_dict(), "htr": {"config": to_dict(cfg)}}, ckpt
    )
    return export(ckpt, folder / "model_repo")


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory) -> Path:
    """Path of a tiny exported model.pt shared by the serving tests."""
    return _tiny_export(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def served_model(tiny_model_file, monkeypatch):
    """Point the serving core at the tiny model and forget any model loaded before."""
    from serving import model

    monkeypatch.setenv("HTR_MODEL_PATH", str(tiny_model_file))
    model.reset()
    yield tiny_model_file
    model.reset()


def load_script(name: str, relative: str):
    """Import a file that is not in a package (lambda/ is a Python keyword)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@contextmanager
def running_lambda(model_file: Path, workers: int = 1):
    """The loopback Runtime API with awslambdaric workers on `model_file`; yields its port."""
    lr = load_script("htr_local_runtime", "lambda/local_runtime.py")
    server, runtime = lr.serve("127.0.0.1", 0, timeout_s=60)
    port = server.server_address[1]
    procs = lr.start_workers(f"127.0.0.1:{port}", workers, {"HTR_MODEL_PATH": str(model_file)})
    try:
        yield port
    finally:
        runtime.stopping.set()
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        server.shutdown()
