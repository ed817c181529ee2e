"""Test-wide settings: no network clients, no analytics, loopback only."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from functools import partial
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


# The one tiny configuration of the test suite: a network and a run that take seconds on CPU.
TINY = {
    "model.height": 32,
    "data.height": 32,
    "model.channels": "8,16,16,16",
    "model.hidden": 32,
    "model.layers": 1,
    "data.batch_size": 4,
    "data.lines_per_epoch": 16,
    "data.synthetic_val": 8,
    "data.num_workers": 0,
    "trainer.max_steps": 6,
    "trainer.max_time": None,
    "trainer.log_every_n_steps": 2,
    "log.wandb": "disabled",
    "log.samples": 2,
    "optim.warmup_steps": 2,
    "trainer.threads": 2,
}


@pytest.fixture
def tiny_settings() -> dict[str, object]:
    """The tiny configuration as dotted keys (a copy: tests may change it)."""
    return dict(TINY)


@pytest.fixture
def tiny(tmp_path: Path):
    """Factory of tiny training configs rooted in the test's tmp folder."""
    from training.cli import apply_overrides
    from training.config import preset

    def make(**overrides: object):
        base = {**TINY, "log.root": str(tmp_path / "runs"), "log.name": "tiny"}
        base.update({k.replace("__", "."): v for k, v in overrides.items()})
        return apply_overrides(preset("quick"), base)

    return make


# The tiny line finder: a page scaled to 256 px, four channels per level.
TINY_FINDER = {"size": 256, "channels": (4, 4, 4, 4), "dilations": (1, 2)}


def write_finder_checkpoint(path: Path, **model: object) -> Path:
    """A randomly initialised line-finder checkpoint, as `python -m training.finder` saves."""
    import torch

    from recognizer.finder import FinderConfig, FinderNet
    from training.cli import to_dict

    config = FinderConfig(**{**TINY_FINDER, **model})  # type: ignore[arg-type]
    state = {f"net.{k}": v for k, v in FinderNet(config).state_dict().items()}
    saved = {"kind": "finder", "config": {"model": to_dict(config)}}
    torch.save({"state_dict": state, "htr": saved}, path)
    return path


@pytest.fixture(scope="session")
def finder_checkpoint():
    """Writer of randomly initialised line-finder checkpoints: finder_checkpoint(path, **model)."""
    return write_finder_checkpoint


def _tiny_export(folder: Path) -> Path:
    """A small randomly initialised model.pt with a tiny line finder, exported through the
    real export path."""
    import torch

    from release.export import export
    from training.cli import apply_overrides, to_dict
    from training.config import preset
    from training.module import LitRecognizer

    cfg = apply_overrides(preset("quick"), TINY)
    ckpt = folder / "tiny.ckpt"
    torch.save(
        {"state_dict": LitRecognizer(cfg).state_dict(), "htr": {"config": to_dict(cfg)}}, ckpt
    )
    finder = write_finder_checkpoint(folder / "finder.ckpt")
    return export(ckpt, folder / "model_repo", finder=finder)


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


def _load_script(name: str, relative: str):
    """Import a file that is not in a package (lambda/ is a Python keyword)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_script():
    """Importer of files outside packages: load_script(module_name, path_from_root)."""
    return _load_script


@pytest.fixture(scope="session")
def local_runtime():
    """lambda/local_runtime.py, the loopback Lambda Runtime API, as a module."""
    return _load_script("htr_local_runtime", "lambda/local_runtime.py")


@pytest.fixture(scope="session")
def running_lambda(local_runtime):
    """Context manager: running_lambda(model_file, workers) serves awslambdaric workers on
    `model_file` behind the loopback Runtime API and yields its port."""
    return partial(_running_lambda, local_runtime)


def write_doc_shard(path: Path, n_docs: int, text: str = "a cat") -> None:
    """A WebDataset shard of random 64-px lines, two per document d0, d1, ..."""
    import numpy as np

    from training.data.lines import LineSample
    from training.data.webdataset import write_shard

    rng = np.random.default_rng(1)
    lines = [
        LineSample(rng.integers(0, 256, (64, 90), dtype=np.uint8), text, doc=f"d{d}")
        for d in range(n_docs)
        for _ in range(2)
    ]
    write_shard(lines, path)


@pytest.fixture(scope="session")
def doc_shard():
    """Writer of small shards with known documents: doc_shard(path, n_docs)."""
    return write_doc_shard


@contextmanager
def _running_lambda(lr, model_file: Path, workers: int = 1):
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


class FakePageReader:
    """A model file's page entry points without a network (docs/pages.md): it finds one line
    per text in `texts`, 40 px apart down the page, and reads each as its text."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def reads_pages(self) -> bool:
        return True

    def find_lines(self, image):
        import torch

        height, width = int(image.shape[0]), int(image.shape[1])
        found = []
        for top in range(10, 10 + 40 * len(self.texts), 40)[: max(0, (height - 40) // 40)]:
            box = [[5, top], [width - 5, top], [width - 5, top + 30], [5, top + 30]]
            base = [[6, top + 25], [width // 2, top + 26], [width - 6, top + 25]]
            found.append((torch.tensor(box, dtype=torch.float32), torch.tensor(base) * 1.0))
        return found

    def cut_lines(self, image, lines):
        return [image[int(p[0, 1]) : int(p[2, 1]), int(p[0, 0]) : int(p[1, 0])] for p, _ in lines]

    def read_lines(self, images):
        return [(t, 0.75, True, [(w, 0.5) for w in t.split()]) for t in self.texts[: len(images)]]


@pytest.fixture
def fake_page_model():
    """The serving core's model replaced by a FakePageReader (its `texts` may be changed)."""
    from serving import model

    reader = FakePageReader(["Le dzé réfléchi", 'a <&"> b'])
    model.set_loader(lambda: model.LoadedModel(reader, "fake-pages", "r1", 0.25))
    yield reader
    model.set_loader(None)
