"""A client of Kea's control channel: one command, one answer.

Kea takes commands as JSON (``{"command": ..., "arguments": {...}}``) on a unix socket
(``control-socket``, every version), on an HTTP socket of kea-dhcp4 itself (Kea 3.0's
``control-sockets`` with ``socket-type: http``), or through kea-ctrl-agent (Kea 2.x), which
forwards to the server named in ``service`` and answers with a list (one answer per server).
:func:`send` speaks all three and returns the one answer: a map with ``result`` (0 success,
1 error, 2 unsupported, 3 empty), ``text`` and, when there are any, ``arguments``.

A target is a socket path (``/run/kea/kea4-ctrl-socket``) or an ``http://`` / ``https://`` URL.
HTTP basic authentication (Kea's ``authentication`` setting) comes from the environment,
``KEA_FANVIL_KEA_USER`` and ``KEA_FANVIL_KEA_PASSWORD_FILE`` (a file holding the password), so
that no password shows in the process list or a shell history.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from kea_fanvil.errors import ControlError

__all__ = ["PASSWORD_FILE_ENV", "TIMEOUT", "USER_ENV", "send"]

TIMEOUT = 10.0  # seconds for the whole exchange
USER_ENV = "KEA_FANVIL_KEA_USER"
PASSWORD_FILE_ENV = "KEA_FANVIL_KEA_PASSWORD_FILE"
_MAX_ANSWER = 64 * 1024 * 1024  # an inventory of 100,000 phones fits; a runaway peer does not


def send(
    target: str, command: str, arguments: dict[str, Any] | None = None, timeout: float = TIMEOUT
) -> dict[str, Any]:
    """Send ``command`` to the Kea at ``target`` (a socket path or URL); Kea's answer.

    Raises ControlError when nothing answers or the answer is not Kea's."""
    message: dict[str, Any] = {"command": command}
    if arguments:
        message["arguments"] = arguments
    if target.startswith(("http://", "https://")):
        answer = _over_http(target, message, timeout)
    else:
        answer = _over_unix(target, message, timeout)
    if isinstance(answer, list):  # kea-ctrl-agent: one answer per service asked
        if len(answer) != 1:
            raise ControlError(f"{target}: expected one answer, got {len(answer)}")
        answer = answer[0]
    if not isinstance(answer, dict) or not isinstance(answer.get("result"), int):
        raise ControlError(f"{target}: the answer is not Kea's: {str(answer)[:200]}")
    return answer


def _over_unix(path: str, message: dict[str, Any], timeout: float) -> Any:
    if not Path(path).is_socket():
        raise ControlError(
            f"{path}: not a socket (Kea's control-socket socket-name; is kea-dhcp4 running?)"
        )
    data = b""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(json.dumps(message).encode())
            # Kea closes the connection after its answer; older versions may leave it open,
            # so stop as soon as what arrived parses.
            while len(data) < _MAX_ANSWER:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                try:
                    return json.loads(data)
                except json.JSONDecodeError:
                    continue
    except OSError as exc:
        raise ControlError(f"{path}: {exc}") from None
    try:
        return json.loads(data)
    except json.JSONDecodeError:
        raise ControlError(f"{path}: the answer is not JSON: {data[:200]!r}") from None


def _over_http(url: str, message: dict[str, Any], timeout: float) -> Any:
    # kea-ctrl-agent needs the server named; Kea 3.0's own HTTP socket accepts it for dhcp4.
    body = json.dumps({**message, "service": ["dhcp4"]}).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    user = os.environ.get(USER_ENV)
    if user:
        request.add_header("Authorization", "Basic " + _credentials(user))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(_MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        detail = exc.read(2000).decode("utf-8", "replace")
        raise ControlError(f"{url}: HTTP {exc.code} {exc.reason} {detail}".strip()) from None
    except (urllib.error.URLError, OSError) as exc:
        raise ControlError(f"{url}: {getattr(exc, 'reason', exc)}") from None
    try:
        return json.loads(data)
    except json.JSONDecodeError:
        raise ControlError(f"{url}: the answer is not JSON: {data[:200]!r}") from None


def _credentials(user: str) -> str:
    path = os.environ.get(PASSWORD_FILE_ENV)
    if not path:
        raise ControlError(
            f"{USER_ENV} is set but {PASSWORD_FILE_ENV} (the password's file) is not"
        )
    try:
        password = Path(path).read_text().strip("\n")
    except OSError as exc:
        raise ControlError(f"{path}: {exc.strerror}") from None
    return base64.b64encode(f"{user}:{password}".encode()).decode()
