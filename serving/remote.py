"""POST JSON to the recognition API (a Lambda function URL, or the emulator's invoke endpoint).

One retry on a connection error or a 5xx answer (a cold or throttled Lambda often answers the
second time); a 4xx is the caller's and is raised at once with the API's own message.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

from serving.errors import ServingError

log = logging.getLogger(__name__)
TIMEOUT_S = 120.0  # above the Lambda's own limit, so that its answer (or its 5xx) comes first
RETRY_PAUSE_S = 1.0


class RemoteError(ServingError):
    """The API did not answer, answered an error status, or answered something not ours."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _unwrap(status: int, answer: Any) -> tuple[int, Any]:
    """The handler's own status and body when the answer is a raw Lambda invocation result."""
    if isinstance(answer, dict) and "statusCode" in answer and isinstance(answer.get("body"), str):
        return int(answer["statusCode"]), _json(answer["body"].encode("utf-8"))
    if isinstance(answer, dict) and "errorMessage" in answer:  # the function itself failed
        return 502, {"error": answer["errorMessage"]}
    return status, answer


def _message(answer: Any) -> str:
    """The error an API answer states, in whichever field its layer uses."""
    if isinstance(answer, dict):
        for key in ("error", "message", "Message", "errorMessage"):
            if isinstance(answer.get(key), str):
                return answer[key]
    return "no error message in the answer"


def _post_once(url: str, data: bytes, timeout: float) -> tuple[int, Any]:
    """Status and decoded JSON (None when not JSON) of one POST; connection errors raise."""
    req = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as e:  # a function URL passes the handler's status through
        status, body = e.code, e.read()
    return _unwrap(status, _json(body))


def post_json(url: str, request: dict[str, Any], timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """The API's JSON answer to `request`; RemoteError says why there is none."""
    data = json.dumps(request).encode("utf-8")
    for attempt in (1, 2):
        try:
            status, answer = _post_once(url, data, timeout)
        except TimeoutError:
            raise RemoteError(
                f"no answer within {timeout:.0f} s; send a smaller image, or retry later"
            ) from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError) as e:
            reason = getattr(e, "reason", None) or e
            if attempt == 1:
                log.info("no connection to the API (%s); retrying once", reason)
                time.sleep(RETRY_PAUSE_S)
                continue
            raise RemoteError(
                f"no connection to the API ({reason}); check the --api URL and the network"
            ) from None
        if status >= 500 and attempt == 1:
            log.info("the API answered %d; retrying once", status)
            time.sleep(RETRY_PAUSE_S)
            continue
        break
    if status >= 400:
        raise RemoteError(f"the API answered {status}: {_message(answer)}", status)
    if not isinstance(answer, dict):
        raise RemoteError("the API's answer is not a JSON object; is --api the recognition API?")
    return answer
