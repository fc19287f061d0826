"""Shared pieces of the labelling-tool tests: the sample project (built once) and HTTP helpers."""

from __future__ import annotations

import contextlib
import json
import shutil
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

from mocap3d.label import LabelSession, LabelToolConfig, start_in_thread
from mocap3d.label.sample import LabelSample, write_label_sample

_TEMPLATES: dict[tuple, LabelSample] = {}


def sample_project(tmp: Path, root: Path, predictions_noise_px: float | None = None) -> LabelSample:
    """A fresh copy of the 3-camera sample project in ``tmp`` (generated once per session under ``root``)."""
    key = (predictions_noise_px,)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = write_label_sample(root / f"template-{len(_TEMPLATES)}",
                                             predictions_noise_px=predictions_noise_px)  # fmt: skip
    template = _TEMPLATES[key]
    shutil.copytree(template.project, tmp)
    return replace(template, project=tmp, calibration=tmp / "calibration.toml")


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read()
            return r.status, (json.loads(body) if r.headers.get_content_type() == "application/json" else body)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def post(url: str, data: dict):
    req = urllib.request.Request(url, json.dumps(data).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def grey(frame: int) -> int:
    """The grey level of frame ``frame`` of the videos written by :func:`write_videos`."""
    return 20 + 7 * frame


def write_videos(sample: LabelSample, n_frames: int = 30) -> list[Path]:
    """``videos/walk_camN.avi`` for the sample project: frame f is uniformly grey(f) (MJPG, quick to write)."""
    import cv2
    import numpy as np

    paths = []
    for c, video in enumerate(sample.videos):
        w, h = (int(v) for v in sample.rig.sizes[c])
        path = sample.project / "videos" / f"{video}.avi"
        path.parent.mkdir(exist_ok=True)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
        for f in range(n_frames):
            writer.write(np.full((h, w, 3), grey(f), np.uint8))
        writer.release()
        paths.append(path)
    return paths


@contextlib.contextmanager
def serving(sample: LabelSample, **server_options):
    """The sample's labelling session served on a free localhost port: ``(session, url, port)``."""
    session = LabelSession.open(sample.project, LabelToolConfig(calibration=sample.calibration))
    server, url = start_in_thread(session, **server_options)
    try:
        yield session, url, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
