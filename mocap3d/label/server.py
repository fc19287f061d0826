"""The labelling tool's local web server: the page, its images and a small JSON API.

Python's standard-library ``ThreadingHTTPServer`` on ``127.0.0.1`` (no extra
dependency; reach it from another machine through an SSH tunnel,
``ssh -L 8787:localhost:8787 lab-server``).

API (all JSON; errors are ``{"error": message}`` with status 400, or 409 for
a conflict, which also carries the file's current ``revision``)

=======================================  ==========================================================
``GET  /api/session``                    project, body parts, individuals, frames, warnings
``GET  /api/frame/<i>``                  labels, predictions, revisions and image URLs of frame i
``GET  /api/geometry/<i>?individual=&bodypart=``  proposals, disagreement, epipolar curves
``GET  /api/progress``                   labelled points per frame and per body part
``POST /api/label``                      ``{video, image, individual, bodypart, xy|null, revision}``
``GET  /image/<video>/<row>``            the image file
=======================================  ==========================================================
"""

from __future__ import annotations

import json
import logging
import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from ..errors import MocapError
from .session import LabelConflict, LabelSession

__all__ = ["make_server", "start_in_thread"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
_STATIC_FILES = {"/": "index.html", "/app.js": "app.js", "/app.css": "app.css"}


class _Handler(BaseHTTPRequestHandler):
    server_version = "mocap3d-label"
    session: LabelSession  # set on the subclass made by make_server

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        log.debug("%s " + format, self.address_string(), *args)

    # -------------------------------------------------------------- replies

    def _send(self, status: int, body: bytes, content_type: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data, status: int = 200) -> None:
        self._send(status, json.dumps(data, allow_nan=False).encode(), "application/json")

    def _error(self, status: int, message: str, **extra) -> None:
        self._json({"error": message, **extra}, status)

    # -------------------------------------------------------------- routes

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            if url.path in _STATIC_FILES:
                name = _STATIC_FILES[url.path]
                kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
                self._send(200, (STATIC / name).read_bytes(), f"{kind}; charset=utf-8")
            elif url.path == "/favicon.ico":
                self._send(204, b"", "image/x-icon")
            elif parts == ["api", "session"]:
                self._json(self.session.info())
            elif parts == ["api", "progress"]:
                self._json(self.session.progress())
            elif len(parts) == 3 and parts[:2] == ["api", "frame"]:
                self._json(self.session.frame(int(parts[2])))
            elif len(parts) == 3 and parts[:2] == ["api", "geometry"]:
                bodypart = query.get("bodypart")
                self._json(
                    self.session.geometry(
                        int(parts[2]), int(query.get("individual", 0)), None if bodypart is None else int(bodypart)
                    )
                )
            elif len(parts) == 3 and parts[0] == "image":
                path = self.session.image_path(int(parts[1]), int(parts[2]))
                if not path.is_file():
                    self._error(404, f"{path} is not on disk any more (moved or renamed?).")
                    return
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                self._send(200, path.read_bytes(), kind, cache=True)
            else:
                self._error(404, f"no such page: {url.path}")
        except MocapError as exc:
            self._error(400, str(exc))
        except ValueError as exc:
            self._error(400, f"bad request {self.path}: {exc}")

    def do_POST(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
            data = json.loads(self.rfile.read(length) or b"{}")
            if url.path != "/api/label":
                self._error(404, f"no such endpoint: {url.path}")
                return
            xy = data.get("xy")
            result = self.session.set_point(
                int(data["video"]), str(data["image"]), int(data.get("individual", 0)), int(data["bodypart"]),
                None if xy is None else [float(v) for v in xy], int(data["revision"]),
            )  # fmt: skip
            self._json(result)
        except LabelConflict as exc:
            self._error(409, str(exc), revision=exc.revision)
        except MocapError as exc:
            self._error(400, str(exc))
        except (KeyError, TypeError, ValueError) as exc:
            self._error(400, f"bad label request ({type(exc).__name__}: {exc}); expected JSON with video, image, "
                             "individual, bodypart, xy and revision.")  # fmt: skip


def make_server(session: LabelSession, host: str = "127.0.0.1", port: int = 8787) -> ThreadingHTTPServer:
    """A server for ``session`` bound to ``host:port`` (port 0: any free port); call ``serve_forever``."""
    handler = type("LabelHandler", (_Handler,), {"session": session})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def start_in_thread(session: LabelSession, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Serve in a background thread (tests, notebooks); returns the server and its base URL."""
    server = make_server(session, host, port)
    threading.Thread(target=server.serve_forever, name="mocap3d-label", daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"
