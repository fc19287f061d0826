"""The labelling tool's local web server: the page, its images and a small JSON API.

Python's standard-library ``ThreadingHTTPServer`` on ``127.0.0.1`` (no extra
dependency; reach it from another machine through an SSH tunnel,
``ssh -L 8787:localhost:8787 lab-server``).

API (all JSON; errors are ``{"error": message}`` with status 400, 403, 404,
408, 411 or 413, or 409 for a conflict, which also carries the file's current
``revision``)

=======================================  ==========================================================
``GET  /api/session``                    project, body parts, individuals, frames, warnings
``GET  /api/frame/<i>``                  labels, predictions, revisions, sizes and image URLs of frame i
``GET  /api/geometry/<i>?individual=&bodypart=``  proposals, disagreement, epipolar curves
``GET  /api/progress``                   labelled points per frame and per body part
``POST /api/label``                      ``{video, image, individual, bodypart, xy|null, revision}``
``POST /api/labels``                     ``{"edits": [edit, ...]}``: several edits, each file written once
``POST /api/add-frame``                  ``{frame, number}``: extract video frame ``number`` for every view of ``frame``
``GET  /image/<video>/<row>``            the image file (only images inside the project's labeled-data/)
``GET  /video/<video>/<n>``              frame n of the folder's source video (JPEG), to browse for frames to add
=======================================  ==========================================================

Request bodies are JSON objects of at most :data:`MAX_BODY` bytes, read with a
timeout (:data:`READ_TIMEOUT_S`): a body that never arrives cannot hold a
handler. Every value is checked (types, ranges, finite coordinates inside the
image) before anything is written.

:class:`ProjectLock` keeps a second ``mocap3d label`` server off a project
that one is already serving (two processes would each keep their own view of
the label files).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import mimetypes
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from ..errors import MocapError
from .session import ImageRefused, LabelConflict, LabelSession

__all__ = ["make_server", "start_in_thread", "ProjectLock", "MAX_BODY", "MAX_EDITS", "READ_TIMEOUT_S"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
_STATIC_FILES = {"/": "index.html", "/app.js": "app.js", "/app.css": "app.css"}
MAX_BODY = 1 << 20  # bytes of a request body (57 edits take ~8 kB)
MAX_EDITS = 10_000  # edits in one /api/labels request
READ_TIMEOUT_S = 10.0  # seconds a request (its headers, its body) may take to arrive
_EDIT_KEYS = {"video", "image", "individual", "bodypart", "xy", "revision"}


class BadRequest(Exception):
    """A request the server refuses, with its HTTP status and a sentence for the page."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _int(data: dict, key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"'{key}' must be a whole number, not {json.dumps(value)[:40]}.")
    return value


def parse_edit(data) -> dict:
    """One label edit from a request, its types checked (ranges are the session's to check)."""
    if not isinstance(data, dict):
        raise BadRequest(
            f"a label edit must be a JSON object with video, image, individual, bodypart, xy and revision, not "
            f"{type(data).__name__ if data is not None else 'null'}."
        )
    missing = sorted({"video", "image", "bodypart", "xy", "revision"} - data.keys())
    if missing:
        raise BadRequest(f"bad label request: {', '.join(missing)} missing; expected JSON with video, image, "
                         "individual, bodypart, xy and revision.")  # fmt: skip
    unknown = sorted(data.keys() - _EDIT_KEYS)
    if unknown:
        raise BadRequest(f"bad label request: unknown field(s) {', '.join(map(str, unknown))[:80]}.")
    image = data["image"]
    if not isinstance(image, str) or len(image) > 4096:
        raise BadRequest("'image' must be the image's path as the frame lists it (a string).")
    revision = data["revision"]
    if not isinstance(revision, str) or len(revision) > 100:
        raise BadRequest("'revision' must be the revision string the frame was read with.")
    xy = data["xy"]
    if xy is not None:
        if (not isinstance(xy, list) or len(xy) != 2
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in xy)):  # fmt: skip
            raise BadRequest(f"'xy' must be [x, y] (two numbers) or null to delete, not {json.dumps(xy)[:60]}.")
        if not all(math.isfinite(v) for v in xy):
            raise BadRequest(f"'xy' must be two finite numbers, not {json.dumps(xy)[:60]}.")
        xy = [float(v) for v in xy]
    return {"video": _int(data, "video"), "image": image, "individual": _int(data, "individual", 0),
            "bodypart": _int(data, "bodypart"), "xy": xy, "revision": revision}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    server_version = "mocap3d-label"
    # HTTP/1.0: one request per connection, so a stopped server stops answering at once (no kept-alive handler)
    session: LabelSession  # set on the subclass made by make_server
    timeout = READ_TIMEOUT_S  # socket timeout of every read (StreamRequestHandler applies it)

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        log.debug("%s " + format, self.address_string(), *args)

    # -------------------------------------------------------------- replies

    def _send(self, status: int, body: bytes, content_type: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if self.close_connection:
            self.send_header("Connection", "close")
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
            elif len(parts) == 3 and parts[0] == "video":
                import cv2

                image = self.session.video_frame(int(parts[1]), int(parts[2]))
                ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
                self._send(200, data.tobytes(), "image/jpeg", cache=True)
            elif len(parts) == 3 and parts[0] == "image":
                path = self.session.image_path(int(parts[1]), int(parts[2]))
                if not path.is_file():
                    self._error(404, f"{path} is not on disk any more (moved or renamed?).")
                    return
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                self._send(200, path.read_bytes(), kind, cache=True)
            else:
                self._error(404, f"no such page: {url.path}")
        except ImageRefused as exc:
            self._error(403, str(exc))
        except MocapError as exc:
            self._error(400, str(exc))
        except (ValueError, IndexError) as exc:
            self._error(400, f"bad request {self.path[:200]}: {exc}")

    def _read_json(self):
        """The request body as JSON, size-limited and read with a timeout."""
        raw_length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise BadRequest("send the body with a Content-Length header (chunked bodies are not accepted).", 411)
        if raw_length is None:
            raise BadRequest("send the JSON body with a Content-Length header.", 411)
        try:
            length = int(raw_length)
        except ValueError:
            self.close_connection = True
            raise BadRequest(f"Content-Length {raw_length[:40]!r} is not a number of bytes.") from None
        if length < 0:
            self.close_connection = True
            raise BadRequest(f"Content-Length {length} is negative.")
        if length > MAX_BODY:
            self.close_connection = True  # the body is not read: the connection cannot be reused
            raise BadRequest(f"the request body is {length} bytes; at most {MAX_BODY} are accepted.", 413)
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self.close_connection = True
            raise BadRequest(f"the request body did not arrive within {self.timeout:g} s (Content-Length said "
                             f"{length} bytes).", 408) from None  # fmt: skip
        if len(body) < length:
            self.close_connection = True
            raise BadRequest(f"the request body ended after {len(body)} of the {length} bytes its Content-Length "
                             "announced.")  # fmt: skip
        try:
            return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except UnicodeDecodeError:
            raise BadRequest("the request body is not UTF-8 text.") from None
        except RecursionError:
            raise BadRequest("the request body is JSON nested too deeply.") from None
        except ValueError as exc:
            raise BadRequest(f"the request body is not valid JSON ({exc}).") from None

    def do_POST(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        try:
            data = self._read_json()
            if url.path == "/api/label":
                edit = parse_edit(data)
                result = self.session.set_point(edit["video"], edit["image"], edit["individual"], edit["bodypart"],
                                                edit["xy"], edit["revision"])  # fmt: skip
                self._json(result)
            elif url.path == "/api/add-frame":
                if not isinstance(data, dict):
                    raise BadRequest('send {"frame": index of the frame shown, "number": frame number in the video}.')
                index = self.session.add_frame(_int(data, "frame"), _int(data, "number"))
                self._json({"index": index, "session": self.session.info()})
            elif url.path == "/api/labels":
                if not isinstance(data, dict) or not isinstance(data.get("edits"), list):
                    raise BadRequest('send {"edits": [edit, ...]} to /api/labels.')
                if len(data["edits"]) > MAX_EDITS:
                    raise BadRequest(f"{len(data['edits'])} edits in one request; at most {MAX_EDITS}.", 413)
                self._json(self.session.set_points([parse_edit(e) for e in data["edits"]]))
            else:
                self._error(404, f"no such endpoint: {url.path[:200]}")
        except BadRequest as exc:
            self._error(exc.status, str(exc))
        except LabelConflict as exc:
            self._error(409, str(exc), revision=exc.revision)
        except MocapError as exc:
            self._error(400, str(exc))
        except OSError as exc:  # the label file could not be written (disk full, permissions)
            log.warning("label not saved: %s", exc)
            self._error(500, f"the label could not be written: {exc.strerror or exc} ({exc.filename or ''}). Nothing "
                             "was changed; free disk space or fix the folder's permissions, then retry.")  # fmt: skip

    def handle_one_request(self) -> None:
        # a client that opens a connection and sends nothing (or half a request line) times out quietly
        with contextlib.suppress(TimeoutError, ConnectionError):
            super().handle_one_request()


def make_server(
    session: LabelSession, host: str = "127.0.0.1", port: int = 8787, read_timeout: float = READ_TIMEOUT_S
) -> ThreadingHTTPServer:
    """A server for ``session`` bound to ``host:port`` (port 0: any free port); call ``serve_forever``."""
    handler = type("LabelHandler", (_Handler,), {"session": session, "timeout": read_timeout})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def start_in_thread(
    session: LabelSession, host: str = "127.0.0.1", port: int = 0, read_timeout: float = READ_TIMEOUT_S
) -> tuple[ThreadingHTTPServer, str]:
    """Serve in a background thread (tests, notebooks); returns the server and its base URL."""
    server = make_server(session, host, port, read_timeout)
    threading.Thread(target=server.serve_forever, name="mocap3d-label", daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"


class ProjectLock:
    """One labelling server per project: an OS lock on ``<project>/.mocap3d-label.lock``.

    The lock is the operating system's (``flock``), so it ends with the
    process however it ends (Ctrl+C, kill -9, a crash): nothing to delete by
    hand. The file holds the owner's pid and URL for the refusal message.
    """

    def __init__(self, root: str | Path):
        self.path = Path(root) / ".mocap3d-label.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`~mocap3d.errors.MocapError` naming the server that has it."""
        for _ in range(10):  # the file may be unlinked by its releasing owner between open and lock
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise MocapError(f"cannot create the lock file {self.path} ({exc.strerror}); the project folder "
                                 "must be writable to label in it.") from exc  # fmt: skip
            if not _try_lock(fd):
                owner = _read_owner(fd)
                os.close(fd)
                raise MocapError(
                    f"another mocap3d label server ({owner}) is already serving {self.path.parent}; use its page, "
                    "or stop it (Ctrl+C in its terminal) before starting this one, so that no label is lost."
                )
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                self.describe(None)
                return
            os.close(fd)
        raise MocapError(f"could not take the lock {self.path}; try again.")

    def describe(self, url: str | None) -> None:
        """Write this process's pid (and URL once the server listens) into the lock file."""
        if self._fd is None:
            return
        text = json.dumps({"pid": os.getpid(), "url": url}).encode()
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.write(self._fd, text)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # while still locked: a waiting opener re-checks the inode (see acquire)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> ProjectLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_owner(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096) or b"{}")
        pid, url = data.get("pid"), data.get("url")
    except (OSError, ValueError, AttributeError):
        return "process unknown"
    return f"pid {pid}" + (f", {url}" if url else ", starting")
