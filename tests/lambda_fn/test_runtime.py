"""The handler under the real AWS runtime interface client, against the loopback Runtime API."""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = Path(__file__).parent / "events"
INVOKE = "/2015-03-31/functions/function/invocations"


def invoke(port: int, event: dict, timeout: float = 60) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{INVOKE}", data=json.dumps(event).encode(), method="POST"
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def api(tiny_model_file, running_lambda):
    with running_lambda(tiny_model_file, workers=2) as port:
        yield port


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, status",
    [
        ("direct.json", 200),
        ("direct_batch.json", 200),
        ("function_url.json", 200),
        ("function_url_base64.json", 200),
        ("malformed_json.json", 400),
        ("missing_field.json", 400),
        ("bad_base64.json", 400),
        ("not_an_image.json", 400),
    ],
)
def test_fixtures_through_awslambdaric(api, name, status):
    out = invoke(api, json.loads((EVENTS / name).read_text()))
    assert out["statusCode"] == status
    assert out["headers"]["Content-Type"] == "application/json"
    body = json.loads(out["body"])
    assert ("error" in body) == (status != 200)
    assert body["request_id"] and body["request_id"] != "local"  # the runtime's request id


@pytest.mark.slow
def test_concurrent_requests_across_two_environments(api):
    event = json.loads((EVENTS / "direct.json").read_text())
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=6) as pool:
        outs = list(pool.map(lambda _: invoke(api, event), range(12)))
    assert all(o["statusCode"] == 200 for o in outs)
    assert len({json.loads(o["body"])["request_id"] for o in outs}) == 12
    assert time.perf_counter() - t0 < 60


@pytest.mark.slow
def test_oversized_image_is_413_through_awslambdaric(api):
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buf, format="PNG")  # a decompression bomb, ~30 kB
    out = invoke(api, {"image": base64.b64encode(buf.getvalue()).decode()})
    assert out["statusCode"] == 413
    assert "pixels" in json.loads(out["body"])["error"]
