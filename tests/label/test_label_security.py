"""The labelling server as a hostile client or a hostile label file would use it (issue 13).

Files outside the project's ``labeled-data/`` are never served whatever a
``CollectedData`` row names; malformed, oversized or never-ending request
bodies get a status and a sentence (nothing is written); a second
``mocap3d label`` process on the same project refuses to start and names the
first, so two processes cannot each keep their own copy of the labels.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _label_helpers import get, post, sample_project, serving

from mocap3d.io.labels import LabelSet, load_labels, save_labels
from mocap3d.label import LabelSession, LabelToolConfig, start_in_thread
from mocap3d.label.server import MAX_BODY

SECRET = b"SECRET-do-not-serve"


@pytest.fixture
def sample(tmp_path, tmp_path_factory):
    return sample_project(tmp_path / "project", tmp_path_factory.getbasetemp())


@pytest.fixture
def served(sample):
    with serving(sample, read_timeout=0.5) as running:
        yield running


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def test_label_rows_naming_other_files_are_never_served(sample, tmp_path):
    outside = tmp_path / "SECRET.txt"
    outside.write_bytes(SECRET)
    (sample.project / "SECRET.txt").write_bytes(SECRET)  # in the project, not in labeled-data/
    folder = sample.project / "labeled-data" / "walk_cam1"
    (folder / "link.png").symlink_to(outside)  # an image name, a text file behind it
    (folder / "dir.png").symlink_to(tmp_path, target_is_directory=True)
    good = [f"labeled-data/walk_cam1/{name}" for name in sample.images]
    hostile = [str(outside), "/etc/passwd", "../SECRET.txt", "SECRET.txt", "labeled-data/../SECRET.txt",
               "labeled-data/walk_cam1/../../SECRET.txt", "labeled-data/walk_cam1/link.png",
               "labeled-data/walk_cam1/dir.png", "labeled-data\\walk_cam1\\..\\SECRET.txt",
               "labeled-data/walk_cam1/CollectedData_sample.csv",
               f"labeled-data/walk_cam1/{'../' * 12}etc/passwd"]  # fmt: skip
    names = good + hostile
    labels = LabelSet.empty(names, sample.bodyparts, "sample", index_style="string")
    points = labels.points.copy()
    points[:, 0, 0] = [5.0, 6.0]  # every row labelled: none may be dropped
    save_labels(labels.with_points(points), folder / "CollectedData_sample.h5")
    session = LabelSession.open(sample.project, LabelToolConfig(calibration=sample.calibration))
    assert "not an image inside labeled-data/" in "\n".join(session.info()["warnings"])
    shown = [view["image"] for f in range(len(session.frames)) for view in session.frame(f)["views"]]
    assert not set(shown) & set(hostile)
    server, url = start_in_thread(session)
    try:
        video = next(i for i, v in enumerate(session.videos) if v.name == "walk_cam1")
        rows = session.videos[video].labels.images
        statuses = {}
        for row, name in enumerate(rows):
            status, body = get(f"{url}/image/{video}/{row}")
            statuses[name] = status
            assert SECRET not in (body if isinstance(body, bytes) else json.dumps(body).encode())
            assert b"root:" not in (body if isinstance(body, bytes) else b"")
        assert all(statuses[name] == 200 for name in good)
        assert all(statuses[name] == 403 for name in rows if name not in good), statuses
        # URL traversal is no way round either
        for path in ("/image/0/..%2F..%2FSECRET.txt", "/image/../SECRET.txt", "/../SECRET.txt", "/image/0/-1"):
            status, body = get(url + path)
            assert status in (400, 403, 404) and SECRET not in json.dumps(body).encode()
        # An edit in this folder keeps every hostile row and its label (they are the user's data)
        view = next(v for v in session.frame(0)["views"] if v["video"] == video)
        assert post(f"{url}/api/label", {"video": video, "image": view["image"], "individual": 0, "bodypart": 1,
                                         "xy": [10.0, 20.0], "revision": view["revision"]})[0] == 200  # fmt: skip
        saved = load_labels(folder / "CollectedData_sample.h5")
        assert set(saved.images) == {n.replace("\\", "/") for n in names}
        assert (saved.labelled[:, 0, 0]).all()
    finally:
        server.shutdown()
        server.server_close()


def _raw(port: int, body: bytes, headers: dict | None = None, path: str = "/api/label", timeout: float = 10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    hdrs = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    hdrs.update(headers or {})
    conn.putrequest("POST", path)
    for k, v in hdrs.items():
        if v is not None:
            conn.putheader(k, v)
    conn.endheaders()
    conn.send(body)
    r = conn.getresponse()
    data = json.loads(r.read() or b"{}")
    conn.close()
    return r.status, data


def test_malformed_bodies_are_answered_400_and_write_nothing(sample, served):
    session, url, port = served
    view = session.frame(0)["views"][0]
    good = {"video": view["video"], "image": view["image"], "individual": 0, "bodypart": 0, "xy": [10.0, 20.0],
            "revision": view["revision"]}  # fmt: skip
    before = _hashes(sample.project)
    bodies = [b"[]", b"null", b"5", b'"text"', b"{", b"", b"\xff\xfe", b"[" * 200_000 + b"]" * 200_000,
              b'{"video": 0, "image": "x", "bodypart": 0, "xy": [NaN, 1], "revision": "none"}',
              b'{"video": 0, "image": "x", "bodypart": 0, "xy": [Infinity, 1], "revision": "none"}']  # fmt: skip
    for body in bodies:
        status, data = _raw(port, body)
        assert status == 400 and data["error"].endswith(".") and "Traceback" not in data["error"], (body[:20], data)
    bad_edits = [
        {**good, "bodypart": len(sample.bodyparts)}, {**good, "bodypart": -1}, {**good, "bodypart": True},
        {**good, "bodypart": 1.5}, {**good, "individual": 3}, {**good, "video": 99}, {**good, "video": "0"},
        {**good, "xy": [1e308, 20.0]}, {**good, "xy": [-1e308, 20.0]}, {**good, "xy": [1e9, 20.0]},
        {**good, "xy": [1279.6, 20.0]}, {**good, "xy": [10.0, -0.6]}, {**good, "xy": ["1", 2]}, {**good, "xy": [1]},
        {**good, "xy": [1, 2, 3]}, {**good, "xy": {"x": 1}}, {**good, "image": "/etc/passwd"},
        {**good, "image": "labeled-data/walk_cam1/../../SECRET.txt"}, {**good, "image": ["a"]},
        {**good, "revision": 1}, {**good, "extra": 1}, {k: v for k, v in good.items() if k != "xy"},
    ]  # fmt: skip
    for edit in bad_edits:
        status, data = post(url + "/api/label", edit)
        assert status == 400 and data["error"].endswith(".") and "Error:" not in data["error"], (edit, data)
        status, data = post(url + "/api/labels", {"edits": [good, edit]})  # one bad edit: none is applied
        assert status == 400, (edit, data)
    for body in ({"edits": "x"}, {"edits": None}, [good], {"edit": [good]}):
        assert post(url + "/api/labels", body)[0] == 400
    assert _hashes(sample.project) == before  # nothing was written
    # the edge pixels themselves are fine: -0.5 .. width - 0.5
    assert post(url + "/api/label", {**good, "xy": [1279.5, -0.5]})[0] == 200


def _recv_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    conn.close()
    return b"".join(chunks)


def test_oversized_missing_and_lying_lengths(sample, served):
    session, url, port = served
    # 40 MB, or one byte over the limit, announced: refused before reading the body
    for length in (40_000_000, MAX_BODY + 1):
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn.sendall(b"POST /api/labels HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % length)  # fmt: skip
        reply = _recv_all(conn)
        assert reply.startswith(b"HTTP/1.0 413") and str(MAX_BODY).encode() in reply
    # no Content-Length
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(b"POST /api/label HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _recv_all(conn).startswith(b"HTTP/1.0 411")
    # a Content-Length that lies: the handler gives up after its read timeout instead of waiting forever,
    # and the server answers others meanwhile
    t0 = time.perf_counter()
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(b'POST /api/label HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"video": 0')
    assert get(url + "/api/progress")[0] == 200
    reply = _recv_all(conn)
    assert reply.startswith(b"HTTP/1.0 408") and time.perf_counter() - t0 < 9  # the client waits 10 s at most
    # a connection that sends nothing at all is closed too
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    assert conn.recv(100) == b""
    conn.close()
    # just under the limit is read (and refused for what it says, not for its size)
    status, data = _raw(port, json.dumps({"edits": [{"x": "y" * 100}] * 9_000}).encode(), path="/api/labels")
    assert status == 400 and "missing" in data["error"]


def _start_cli(project: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen([sys.executable, "-m", "mocap3d", "label", str(project), "--no-browser", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)  # fmt: skip


def _url_of(proc: subprocess.Popen) -> str:
    assert proc.stdout is not None
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("labelling at "):
            return line.split()[2]
    raise AssertionError("the server did not start")


def test_a_second_server_on_the_project_refuses_and_names_the_first(sample):
    from click.testing import CliRunner

    from mocap3d.cli import cli
    from mocap3d.label.server import ProjectLock

    first = _start_cli(sample.project)  # a real second process holds the lock
    try:
        url = _url_of(first)
        # the same project, another way in (one labeled-data/<video> folder): refused, naming the first server
        result = CliRunner().invoke(cli, ["label", str(sample.project / "labeled-data" / "walk_cam2"), "--no-browser",
                                          "--port", "0"])  # fmt: skip
        assert result.exit_code == 1, result.output
        assert f"pid {first.pid}, {url}" in result.output and "already serving" in result.output
        assert "Traceback" not in result.output
        # the first one still serves and saves
        _, frame = get(url + "/api/frame/0")
        view = frame["views"][0]
        assert post(url + "/api/label", {"video": view["video"], "image": view["image"], "bodypart": 2,
                                         "xy": [33.0, 44.0], "revision": view["revision"]})[0] == 200  # fmt: skip
    finally:
        first.send_signal(signal.SIGKILL)  # however the first one ends, its lock goes with it
        first.wait(timeout=30)
    h5 = sample.project / "labeled-data" / "walk_cam1" / "CollectedData_sample.h5"
    np.testing.assert_array_equal(load_labels(h5).points[0, 0, 2], [33.0, 44.0])
    with ProjectLock(sample.project) as lock:  # free again, nothing to delete by hand
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert not (sample.project / ".mocap3d-label.lock").exists()


def test_impossible_port_is_a_sentence(sample):
    from click.testing import CliRunner

    from mocap3d.cli import cli

    result = CliRunner().invoke(cli, ["label", str(sample.project), "--port", "70000", "--no-browser"])
    assert result.exit_code == 1 and "'--port': 70000 is not in the range 0<=x<=65535" in result.output
    assert "Traceback" not in result.output and not (sample.project / ".mocap3d-label.lock").exists()
