"""A local AWS Lambda Runtime API on loopback, plus the emulator's invoke endpoint.

`python lambda/local_runtime.py --port 9000 --workers 2` (what `make api` runs) serves
  - the Runtime API that the real AWS runtime interface client (awslambdaric) polls:
    GET  /2018-06-01/runtime/invocation/next
    POST /2018-06-01/runtime/invocation/{id}/response | /error, /2018-06-01/runtime/init/error
  - the runtime interface emulator's endpoint that callers use, as with the AWS base image:
    POST /2015-03-31/functions/function/invocations
and starts WORKERS awslambdaric processes running handler.handler (each is one execution
environment, so WORKERS requests run at once, as Lambda scales by environments).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import signal
import socket
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


@dataclass
class Invocation:
    """One request on its way through a worker."""

    body: bytes
    timeout_s: float
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

    def invoke(self, body: bytes) -> Invocation:
        inv = Invocation(body, self.timeout_s)
        self.pending.put(inv)
        if not inv.done.wait(self.timeout_s):
            inv.status, inv.result = (
                504,
                json.dumps(
                    {
                        "errorMessage": f"Task timed out after {self.timeout_s:.0f} seconds",
                        "errorType": "Timeout",
                    }
                ).encode(),
            )
        return inv

    def next(self) -> Invocation | None:
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
        inv.status, inv.result, inv.function_error = 200, body, error
        inv.done.set()
        return True


def make_handler(runtime: Runtime) -> type[BaseHTTPRequestHandler]:
    """The HTTP handler class bound to one Runtime."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:  # no request bodies in logs
            log.debug("%s %s", self.command, self.path)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

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
                return self._send(404, b'{"errorMessage": "not found"}')
            inv = runtime.next()
            if inv is None:
                return self._send(503, b'{"errorMessage": "shutting down"}')
            deadline = int((time.time() + inv.timeout_s) * 1000)
            self._send(
                200,
                inv.body,
                {
                    "Lambda-Runtime-Aws-Request-Id": inv.id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{inv.id[:8]}",
                },
            )

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self._body()
            if self.path == INVOKE:
                inv = runtime.invoke(body)
                extra = {"X-Amz-Function-Error": "Unhandled"} if inv.function_error else {}
                return self._send(inv.status, inv.result, extra)
            parts = self.path.strip("/").split("/")
            if parts[:3] == ["2018-06-01", "runtime", "invocation"] and len(parts) == 5:
                ok = runtime.finish(parts[3], body, error=parts[4] == "error")
                return self._send(202 if ok else 400, b'{"status": "OK"}')
            if self.path == "/2018-06-01/runtime/init/error":
                runtime.init_errors.append(body)
                log.error("worker failed to start: %s", body[:500].decode(errors="replace"))
                return self._send(202, b'{"status": "OK"}')
            self._send(404, b'{"errorMessage": "not found"}')

    return Handler


class _Server(ThreadingHTTPServer):
    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        # A caller that hangs up (timeout, shutdown) is not an error of the runtime.
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("client %s went away", client_address)
        else:
            super().handle_error(request, client_address)


def serve(host: str, port: int, timeout_s: float) -> tuple[ThreadingHTTPServer, Runtime]:
    """Start the Runtime API in a background thread."""
    runtime = Runtime(timeout_s)
    server = _Server((host, port), make_handler(runtime))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, runtime


def start_workers(api: str, n: int, env: dict[str, str] | None = None) -> list[subprocess.Popen]:
    """Launch `n` awslambdaric processes running handler.handler against `api`."""
    root = HERE.parent
    base = {
        "HTR_MODEL_PATH": str(root / "model_repo" / "model.pt"),  # what export writes
        **os.environ,
        **(env or {}),
        "AWS_LAMBDA_RUNTIME_API": api,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
        "AWS_LAMBDA_FUNCTION_NAME": "htr-line-recognizer",
        "AWS_REGION": "us-east-1",
    }
    cmd = [sys.executable, "-m", "awslambdaric", "handler.handler"]
    return [subprocess.Popen(cmd, cwd=HERE, env=base) for _ in range(n)]


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=60.0, help="function timeout in seconds")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    server, runtime = serve(args.host, args.port, args.timeout)
    workers = start_workers(f"{args.host}:{args.port}", args.workers)
    log.info(
        "Lambda API on http://%s:%d%s (%d workers)", args.host, args.port, INVOKE, args.workers
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    runtime.stopping.set()
    for w in workers:
        w.terminate()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
