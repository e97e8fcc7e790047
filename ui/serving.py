"""Who may fetch which file from the studio: each file only by the browser that made it.

Gradio serves any file in its upload cache to anyone who asks for its path
(`/gradio_api/file=PATH`). The studio puts a small ASGI layer in front of it: every browser
gets a random, HttpOnly cookie on its first request; a file the browser uploads, and every
output the studio hands it (copied into a folder named by a fresh random token), is noted as
that browser's; and a request for a file under the studio's root is answered only if the file
is the asking browser's. Anyone else, a second browser or a plain HTTP client, gets the same
404 as for a file that does not exist.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from collections import defaultdict
from http.cookies import CookieError, SimpleCookie
from pathlib import Path

COOKIE = "retake-studio"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_FILE_ROUTE = re.compile(r"/file[=/](.*)$", re.DOTALL)


def _real(path: str | os.PathLike) -> str:
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def visitor_from_header(cookie_header: str | None) -> str | None:
    """The studio's cookie in a Cookie header, if it is well formed."""
    if not cookie_header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None and _TOKEN.match(morsel.value) else None


def visitor(request) -> str | None:
    """The browser behind a Gradio request (its cookie), or None (no cookie, or a direct
    call from Python)."""
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    try:
        raw = headers.get("cookie")
    except Exception:  # noqa: BLE001 - an odd headers object: no visitor
        return None
    return visitor_from_header(raw)


class FileGate:
    """The owners of the files under `root`; `cache` is Gradio's upload cache inside it."""

    def __init__(self, root: Path, cache: Path) -> None:
        self.root, self.cache = _real(root), _real(cache)
        self._owners: dict[str, set[str]] = defaultdict(set)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ ownership
    def inside_root(self, path: str | os.PathLike) -> bool:
        """`path` lies under the root, as written or with its links resolved."""
        def under(p: str) -> bool:
            return p == self.root or p.startswith(self.root + os.sep)
        try:
            return under(os.path.abspath(os.fspath(path))) or under(_real(path))
        except (OSError, ValueError):
            return True  # unreadable: treat as ours, i.e. guarded

    def register(self, path: str | os.PathLike, owner: str | None) -> None:
        if owner:
            with self._lock:
                self._owners[_real(path)].add(owner)

    def owner_of(self, path: str | os.PathLike) -> set[str]:
        with self._lock:
            return set(self._owners.get(_real(path), ()))

    def forget(self, folder: str | os.PathLike) -> None:
        """Drop the owners of every file under `folder` (removed by the clean-up)."""
        top = _real(folder)
        with self._lock:
            for path in [p for p in self._owners if p == top or p.startswith(top + os.sep)]:
                del self._owners[path]

    def allowed(self, path: str | os.PathLike, owner: str | None) -> bool:
        """May the browser `owner` fetch `path`? Anything outside the root is Gradio's
        business (it serves only its own static files there)."""
        if not self.inside_root(path):
            return True
        return owner is not None and owner in self.owner_of(path)

    def publish(self, path: str | os.PathLike, owner: str | None) -> str:
        """A private copy of `path` in the cache, in a folder named by a fresh random token,
        fetchable by `owner` only. Returns the copy's path."""
        from retake.ui.studio import private_copy, private_dir

        folder = private_dir(Path(self.cache) / secrets.token_urlsafe(24))
        copy = private_copy(path, folder / Path(path).name)
        self.register(copy, owner)
        return str(copy)

    # ------------------------------------------------------------ ASGI layer
    def middleware(self, app):
        """The ASGI app `app` behind the gate (for FastAPI's `middleware=` list)."""
        return _GateMiddleware(app, self)


class _GateMiddleware:
    def __init__(self, app, gate: FileGate) -> None:
        self.app, self.gate = app, gate

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        who = visitor_from_header(headers.get(b"cookie", b"").decode("latin-1"))
        new = None if who else secrets.token_urlsafe(32)
        path = scope.get("path", "")
        m = _FILE_ROUTE.search(path)
        if m and not self.gate.allowed(m.group(1), who):
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": b"Not found"})
            return None
        upload = scope.get("method") == "POST" and path.rstrip("/").endswith("/upload")
        body: list[bytes] = []
        status = [0]

        async def relay(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                if new:
                    cookie = (f"{COOKIE}={new}; Path=/; HttpOnly; SameSite=Strict")
                    message = dict(message, headers=list(message.get("headers", [])) +
                                   [(b"set-cookie", cookie.encode("latin-1"))])
            elif message["type"] == "http.response.body" and upload:
                body.append(message.get("body", b""))
                if not message.get("more_body") and status[0] == 200:
                    self._note_uploads(b"".join(body), who or new)
            await send(message)

        return await self.app(scope, receive, relay)

    def _note_uploads(self, raw: bytes, who: str) -> None:
        try:
            paths = json.loads(raw)
        except ValueError:
            return
        if isinstance(paths, list):
            for p in paths:
                if isinstance(p, str) and self.gate.inside_root(p):
                    self.gate.register(p, who)
