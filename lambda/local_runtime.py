"""A local AWS Lambda Runtime API on loopback, plus the emulator's invoke endpoint.

`python lambda/local_runtime.py --port 9000 --workers 2` (what `make api` runs) serves the
Runtime API that awslambdaric polls and, as the AWS base image's emulator does, POST
/2015-03-31/functions/function/invocations. Each of WORKERS awslambdaric processes (execution
environments: WORKERS requests run at once) loads the model in its init, and "ready" waits for
every worker's first poll. As Lambda does, it refuses invocations over 6,291,456 bytes (413)
and payloads that are not JSON (400) before any worker sees them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger("local_runtime")
HERE = Path(__file__).resolve().parent
NEXT = "/2018-06-01/runtime/invocation/next"
INVOKE = "/2015-03-31/functions/function/invocations"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:htr-line-recognizer"
MAX_REQUEST_BYTES = 6_291_456  # Lambda's limit on a synchronous invocation's payload
DRAIN_BYTES = 64 * 2**20  # a refused body up to this size is read, so the caller gets the 413
READY_TIMEOUT_S = 300.0  # how long the workers may take to load the model
_RUNTIMES: dict[int, Runtime] = {}  # by port: how start_workers finds the API it feeds


class WorkerStartError(RuntimeError):
    """A worker exited, reported an init error, or did not poll for requests in time."""


@dataclass
class Invocation:
    """One request on its way through a worker."""

    body: bytes
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    done: threading.Event = field(default_factory=threading.Event)
    status: int = 0
    result: bytes = b""
    function_error: bool = False


class Runtime:
    """Queue between callers of the invoke endpoint and the workers polling /next."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.running: dict[str, Invocation] = {}
        self.stopping = threading.Event()
        self.init_errors: list[bytes] = []
        self._lock = threading.Lock()
        self._polls = self._answers = 0  # /next requests, and invocations answered

    def invoke(self, body: bytes) -> Invocation:
        inv = Invocation(body)
        self.pending.put(inv)
        if not inv.done.wait(self.timeout_s):
            msg = f"Task timed out after {self.timeout_s:.0f} seconds; send fewer images at once"
            inv.status, inv.result = 504, json.dumps({"errorMessage": msg}).encode()
        return inv

    def next(self) -> Invocation | None:
        with self._lock:
            self._polls += 1
        while not self.stopping.is_set():
            try:
                inv = self.pending.get(timeout=0.5)
            except queue.Empty:
                continue
            self.running[inv.id] = inv
            return inv
        return None

    def finish(self, inv_id: str, body: bytes, error: bool) -> bool:
        inv = self.running.pop(inv_id, None)
        if inv is None:
            return False
        with self._lock:
            self._answers += 1
        inv.status, inv.result, inv.function_error = 200, body, error
        inv.done.set()
        return True

    def wait_ready(self, procs: list[subprocess.Popen], timeout_s: float) -> None:
        """Return once every worker has polled /next; raise WorkerStartError if one cannot."""
        deadline = time.monotonic() + timeout_s
        # A worker polls once more than it answers: `up` counts each polling worker once.
        while (up := self._polls - self._answers) < len(procs):
            codes = [p.returncode for p in procs if p.poll() is not None]
            if self.init_errors or codes:
                why = _init_error(self.init_errors[0]) if self.init_errors else f"exit {codes[0]}"
                raise WorkerStartError(
                    f"a worker failed to start: {why}; fix that (is HTR_MODEL_PATH an "
                    "exported model.pt?) and start again"
                )
            if time.monotonic() > deadline:
                raise WorkerStartError(
                    f"{up} of {len(procs)} workers ready after {timeout_s:.0f} s; see their "
                    "log above, or allow them longer with --ready-timeout"
                )
            time.sleep(0.05)


def _init_error(body: bytes) -> str:
    """The type and message of awslambdaric's init error report."""
    try:
        return "{errorType}: {errorMessage}".format(**json.loads(body))
    except (ValueError, TypeError, KeyError):
        return body[:500].decode(errors="replace")


def lambda_error(status: int, kind: str, message: str) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers shaped like the Lambda Invoke API's own errors."""
    body = json.dumps({"Type": "User", "message": message}).encode()
    return status, body, {"x-amzn-ErrorType": kind}


def too_large(size: int) -> tuple[int, bytes, dict[str, str]]:
    """Lambda's answer to a synchronous invocation over its payload limit."""
    return lambda_error(
        413,
        "RequestEntityTooLargeException",
        f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction "
        f"operation; this one is {size} bytes: send a smaller line image (cropped, or JPEG)",
    )


def not_json(e: ValueError) -> tuple[int, bytes, dict[str, str]]:
    """Lambda's answer to an invocation whose payload is not JSON."""
    why = f"{e.msg} at character {e.pos}" if isinstance(e, json.JSONDecodeError) else e
    example = '{"image": "<base64>"}'
    msg = f"Could not parse request body into json: {why}; send JSON such as {example}"
    return lambda_error(400, "InvalidRequestContentException", msg)


class _Handler(BaseHTTPRequestHandler):
    """The Runtime API for workers and the invoke endpoint for callers."""

    protocol_version = "HTTP/1.1"
    runtime: Runtime  # set by serve()

    def log_message(self, fmt: str, *args: object) -> None:  # no request bodies in logs
        log.debug("%s %s", self.command, self.path)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path != NEXT:
            return self._not_found()
        inv = self.runtime.next()
        if inv is None:
            return self._send(503, b'{"errorMessage": "the runtime is shutting down"}')
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv.id,
            "Lambda-Runtime-Deadline-Ms": str(int((time.time() + self.runtime.timeout_s) * 1e3)),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
            "Lambda-Runtime-Trace-Id": f"Root=1-{inv.id[:8]}",
        }
        self._send(200, inv.body, headers)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        size = int(self.headers.get("Content-Length") or 0)
        if self.path == INVOKE and size > MAX_REQUEST_BYTES:
            if size <= DRAIN_BYTES:  # read it, so that the caller gets the answer
                self.rfile.read(size)
            self.close_connection = True  # what is left unread is no next request
            status, body, headers = too_large(size)
            return self._send(status, body, {**headers, "Connection": "close"})
        body = self.rfile.read(size)
        parts = self.path.strip("/").split("/")
        if self.path == INVOKE:
            return self._invoke(body)
        if parts[:3] == ["2018-06-01", "runtime", "invocation"] and len(parts) == 5:
            if self.runtime.finish(parts[3], body, error=parts[4] == "error"):
                return self._send(202, b'{"status": "OK"}')
            msg = f"no invocation {parts[3]} is running; answer the id that /next gave"
            return self._send(400, json.dumps({"errorMessage": msg}).encode())
        if self.path == "/2018-06-01/runtime/init/error":
            self.runtime.init_errors.append(body)
            log.error("worker failed to start: %s", _init_error(body))
            return self._send(202, b'{"status": "OK"}')
        self._not_found()

    def _invoke(self, body: bytes) -> None:
        try:
            json.loads(body)
        except ValueError as e:
            return self._send(*not_json(e))
        inv = self.runtime.invoke(body)
        extra = {"X-Amz-Function-Error": "Unhandled"} if inv.function_error else {}
        self._send(inv.status, inv.result, extra)

    def _not_found(self) -> None:
        msg = f"no {self.command} {self.path} here; POST a JSON event to {INVOKE}"
        self._send(404, json.dumps({"Type": "User", "message": msg}).encode())


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller that hangs up (timeout, shutdown) is not an error of the runtime."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("client %s went away", client_address)
        else:
            super().handle_error(request, client_address)


def serve(host: str, port: int, timeout_s: float) -> tuple[ThreadingHTTPServer, Runtime]:
    """Start the Runtime API in a background thread."""
    runtime = Runtime(timeout_s)
    server = _Server((host, port), type("Handler", (_Handler,), {"runtime": runtime}))
    server.daemon_threads = True
    _RUNTIMES[server.server_address[1]] = runtime
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, runtime


def start_workers(
    api: str, n: int, env: dict[str, str] | None = None, ready_timeout_s: float = READY_TIMEOUT_S
) -> list[subprocess.Popen]:
    """Launch `n` awslambdaric workers against `api` (from `serve`); return once all are warm."""
    runtime = _RUNTIMES.get(int(api.rsplit(":", 1)[-1]))
    if runtime is None:
        raise ValueError(f"no Runtime API of this process serves {api}; call serve() first")
    root = HERE.parent
    base = {
        "HTR_MODEL_PATH": str(root / "model_repo" / "model.pt"),  # what export writes
        "HTR_LOAD_AT_INIT": "1",  # each worker loads the model before it polls for requests
        **os.environ,
        **(env or {}),
        "AWS_LAMBDA_RUNTIME_API": api,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
        "AWS_LAMBDA_FUNCTION_NAME": "htr-line-recognizer",
        "AWS_REGION": "us-east-1",
    }
    cmd = [sys.executable, "-m", "awslambdaric", "handler.handler"]  # as the base image runs it
    procs = [subprocess.Popen(cmd, cwd=HERE, env=base) for _ in range(n)]
    try:
        runtime.wait_ready(procs, ready_timeout_s)
    except WorkerStartError:
        for p in procs:
            p.kill()
        raise
    return procs


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted (1 when the workers do not start)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=60.0, help="function timeout in seconds")
    p.add_argument("--ready-timeout", type=float, default=READY_TIMEOUT_S, help="seconds")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    server, runtime = serve(args.host, args.port, args.timeout)
    api = f"{args.host}:{server.server_address[1]}"
    log.info("starting %d workers: each loads the model before the API is ready", args.workers)
    try:
        workers = start_workers(api, args.workers, None, args.ready_timeout)
    except WorkerStartError as e:
        log.error("not ready: %s", e)
        server.shutdown()
        return 1
    log.info("ready: Lambda API on http://%s%s (%d workers warm)", api, INVOKE, args.workers)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        threading.Event().wait()
    runtime.stopping.set()
    for w in workers:
        w.terminate()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
