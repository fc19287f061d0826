"""Project pipeline on Dask: the same outputs as a serial run, and a SIGKILLed run finished by a re-run (issue #7)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _pipeline_helpers import use_fake_network

from mocap3d.io.pose2d import load_dlc
from mocap3d.io.pose3d import load_h5
from mocap3d.pipeline import run_project
from mocap3d.pipeline.sample_project import make_sample_project

N_SESSIONS, FRAMES = 8, 120
# Formats whose bytes depend only on their content (DeepLabCut .h5 files are PyTables stores with timestamps).
BYTE_EXACT = ("pose-3d", "pose-3d-filtered", "angles", "exports")
VOLATILE = ("started", "seconds", "pid")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dask") / "template"
    make_sample_project(root, n_sessions=N_SESSIONS, n_frames=FRAMES)
    return root


@pytest.fixture(scope="module")
def serial(template, tmp_path_factory) -> Path:
    """The template run serially, in this process: the reference for every other run."""
    root = tmp_path_factory.mktemp("dask") / "serial"
    shutil.copytree(template, root)
    report = run_project(root, workers=0, progress=False)
    assert not report.failed, report.table()
    return root


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0") as c:  # fmt: skip
        yield c


def _outputs(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.is_file() and p.parent.name in BYTE_EXACT + ("pose-2d-filtered", ".mocap3d")}  # fmt: skip


def _assert_same_outputs(a: Path, b: Path) -> None:
    out_a, out_b = _outputs(a), _outputs(b)
    assert sorted(out_a) == sorted(out_b)
    # results first, then the records that describe them
    for rel, pa in sorted(out_a.items(), key=lambda item: item[1].parent.name == ".mocap3d"):
        pb = out_b[rel]
        folder = pa.parent.name
        if folder in BYTE_EXACT:
            if pa.read_bytes() != pb.read_bytes() and pa.suffix == ".h5":
                ha, hb = load_h5(pa), load_h5(pb)
                np.testing.assert_array_equal(ha.points, hb.points, err_msg=rel)
                assert ha.metadata == hb.metadata, rel
            assert pa.read_bytes() == pb.read_bytes(), rel
        elif folder == "pose-2d-filtered":
            ta, tb = load_dlc(pa), load_dlc(pb)
            np.testing.assert_array_equal(ta.points, tb.points)
            np.testing.assert_array_equal(ta.scores, tb.scores)
        else:  # manifests: the same parameters, inputs and outputs; only times and process ids differ
            ra, rb = json.loads(pa.read_text()), json.loads(pb.read_text())
            assert ra["params"] == rb["params"]
            assert {k: v["sha256"] for k, v in ra["inputs"].items() if "pose-2d-filtered" not in k} == {
                k: v["sha256"] for k, v in rb["inputs"].items() if "pose-2d-filtered" not in k
            }
            assert ra["outputs"].keys() == rb["outputs"].keys()


def test_dask_run_gives_the_serial_outputs(template, serial, cluster, tmp_path):
    root = tmp_path / "dask"
    shutil.copytree(template, root)
    report = run_project(root, scheduler=cluster.scheduler_address, progress=False)
    assert not report.failed, report.table()
    assert len(report.sessions) == N_SESSIONS
    assert [s.session for s in report.sessions] == sorted(s.session for s in report.sessions)
    _assert_same_outputs(serial, root)
    # the whole project re-run on the cluster does nothing
    again = run_project(root, scheduler=cluster.scheduler_address, progress=False)
    assert again.scheduler == "nothing to do"
    assert all(s.count("done") == 0 for s in again.sessions)


def test_dask_run_reports_a_broken_session_and_finishes_the_others(template, cluster, tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(template, root)
    truncated = root / "day2" / "walk04" / "pose-2d" / "cam1.h5"
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 3])
    (root / "day1" / "walk05" / "pose-2d" / "cam4.h5").unlink()
    report = run_project(root, scheduler=cluster.scheduler_address, progress=False)
    errors = {s.session: s.error for s in report.sessions}
    assert "cam1.h5" in errors["day2/walk04"]
    assert "no 2D file for camera(s) cam4" in errors["day1/walk05"]
    assert sum(not e for e in errors.values()) == N_SESSIONS - 2
    assert len(list(root.rglob("exports/*.trc"))) == N_SESSIONS - 2


def _wait_until_group_gone(pgid: int, timeout: float = 20.0) -> None:
    """Wait until no running (non-zombie) process is left in process group ``pgid`` (Linux /proc)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                alive.append(stat.parent.name)
        if not alive:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes {alive} of the killed run are still running")


def _partial_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if p.is_file() and p.parent.name != ".mocap3d"]


@pytest.mark.parametrize("workers", [0, 2])
def test_sigkill_then_rerun_finishes_without_redoing_work(template, serial, tmp_path, workers):
    """Kill ``mocap3d run`` (its whole process group) once some sessions are complete, then run again."""
    root = tmp_path / "killed"
    shutil.copytree(template, root)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mocap3d", "run", str(root), "--workers", str(workers), "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env,
    )  # fmt: skip
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if len(list(root.rglob(".mocap3d/export.json"))) >= 2:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    _wait_until_group_gone(proc.pid)  # Dask's worker processes die with their nanny, a moment later
    finished = sorted(p.parent.parent for p in root.rglob(".mocap3d/export.json"))
    assert 2 <= len(finished) < N_SESSIONS
    records = {p: p.read_bytes() for s in finished for p in (s / ".mocap3d").glob("*.json")}

    report = run_project(root, workers=0, progress=False)
    assert not report.failed, report.table()
    by_name = {s.session: s for s in report.sessions}
    for session in finished:
        result = by_name[session.relative_to(root).as_posix()]
        assert result.count("done") == 0 and result.count("skipped") == 5, result.stages
    assert all(p.read_bytes() == data for p, data in records.items())  # records of finished sessions untouched
    assert _partial_files(root) == []
    _assert_same_outputs(serial, root)
    for path in root.rglob("pose-3d*/*.h5"):
        assert np.isfinite(load_h5(path).points).any()


def test_videos_of_a_session_are_analysed_as_separate_dask_tasks(template, serial, cluster, tmp_path):
    distributed = pytest.importorskip("distributed")
    root = tmp_path / "videos"
    shutil.copytree(template, root)
    session = root / "day1" / "walk03"
    module, calls, _ = use_fake_network(root, session, tmp_path, "fake_net_dask")
    with distributed.Client(cluster.scheduler_address) as client:
        client.upload_file(str(module))  # the workers import it; this process never needs to
    report = run_project(root, scheduler=cluster.scheduler_address, progress=False)
    assert not report.failed, report.table()
    assert [line.split()[1] for line in calls.read_text().splitlines()] == ["1"] * 4  # one task per video
    outcome = next(o for s in report.sessions if s.session == "day1/walk03" for o in s.stages if o.stage == "analyze")
    assert outcome.status == "done" and "4 Dask tasks" in outcome.note
    reference = serial / "day1" / "walk03" / "pose-3d" / "walk03.h5"
    assert (session / "pose-3d" / "walk03.h5").read_bytes() == reference.read_bytes()
