"""The handler under the real AWS runtime interface client, against the loopback Runtime API."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
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


def post(port: int, data: bytes, path: str = INVOKE) -> tuple[int, dict, dict]:
    """Status, headers and JSON body of a raw POST, error statuses included."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


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
        ("page.json", 200),
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


LIMIT = 6_291_456  # Lambda's limit on a synchronous invocation's payload


@pytest.mark.slow
def test_body_over_lambdas_limit_is_413_before_any_worker(api):
    status, headers, body = post(api, b"x" * int(6.5 * 2**20))
    assert status == 413 and headers["x-amzn-ErrorType"] == "RequestEntityTooLargeException"
    assert body["Type"] == "User"
    assert body["message"].startswith(
        f"Request must be smaller than {LIMIT} bytes for the InvokeFunction operation"
    )
    assert "send a smaller line image" in body["message"]


@pytest.mark.slow
def test_body_just_under_the_limit_reaches_the_handler(api):
    head, tail = b'{"image": "', b'"}'
    data = head + b"A" * ((LIMIT - len(head) - len(tail)) // 4 * 4 - 4) + tail  # empty bytes
    assert LIMIT - 8 < len(data) < LIMIT
    status, _, out = post(api, data)
    body = json.loads(out["body"])
    assert status == 200 and out["statusCode"] == 400 and body["request_id"] != "local"
    assert "not a readable image" in body["error"]


@pytest.mark.slow
def test_payload_that_is_not_json_is_400_before_any_worker(api):
    status, headers, body = post(api, b'{"image": ')
    assert status == 400 and headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    assert body["message"].startswith("Could not parse request body into json")
    assert body["message"].endswith('send JSON such as {"image": "<base64>"}')
    status, _, body = post(api, b"{}", path="/nowhere")
    assert status == 404 and INVOKE in body["message"]


@pytest.mark.slow
def test_first_request_after_ready_pays_no_cold_start(tiny_model_file, running_lambda):
    with running_lambda(tiny_model_file, workers=1) as port:  # returns once workers are warm
        out = invoke(port, json.loads((EVENTS / "direct.json").read_text()))
    timing = json.loads(out["body"])["timing_ms"]
    assert out["statusCode"] == 200 and "load" not in timing  # the model loaded during init


@pytest.mark.slow
def test_a_lazy_worker_reports_its_cold_start(tiny_model_file, local_runtime):
    server, runtime = local_runtime.serve("127.0.0.1", 0, timeout_s=60)
    api = f"127.0.0.1:{server.server_address[1]}"
    env = {"HTR_MODEL_PATH": str(tiny_model_file), "HTR_LOAD_AT_INIT": "0"}
    procs = local_runtime.start_workers(api, 1, env)
    try:
        port = server.server_address[1]
        first, second = (
            invoke(port, json.loads((EVENTS / "direct.json").read_text())) for _ in "12"
        )
    finally:
        runtime.stopping.set()
        procs[0].terminate()
        procs[0].wait(timeout=10)
        server.shutdown()
    assert json.loads(first["body"])["timing_ms"]["load"] > 0
    assert "load" not in json.loads(second["body"])["timing_ms"]


@pytest.mark.slow
def test_a_worker_that_cannot_load_the_model_fails_readiness(local_runtime, tmp_path):
    server, _ = local_runtime.serve("127.0.0.1", 0, timeout_s=60)
    api = f"127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(local_runtime.WorkerStartError, match="ModelUnavailable: no model file"):
            local_runtime.start_workers(api, 1, {"HTR_MODEL_PATH": str(tmp_path / "gone.pt")})
    finally:
        server.shutdown()


def test_a_worker_that_never_polls_fails_readiness_in_bounded_time(
    local_runtime, tmp_path, monkeypatch
):
    hang = tmp_path / "hang"
    hang.write_text("#!/bin/sh\nexec sleep 60\n")
    hang.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(hang))  # the worker command: it never polls
    server, _ = local_runtime.serve("127.0.0.1", 0, timeout_s=60)
    api = f"127.0.0.1:{server.server_address[1]}"
    t0 = time.perf_counter()
    try:
        with pytest.raises(local_runtime.WorkerStartError, match="0 of 2 workers ready after 1 s"):
            local_runtime.start_workers(api, 2, ready_timeout_s=1)
    finally:
        server.shutdown()
    assert time.perf_counter() - t0 < 10
