"""Project pipeline, serially: layout, config, stages, resuming, failing sessions, CLI (issue #7)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from _pipeline_helpers import use_fake_network
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.errors import MocapError
from mocap3d.io.pose3d import load_h5
from mocap3d.pipeline import (
    STAGE_ORDER,
    ProjectConfig,
    find_calibration,
    find_sessions,
    load_config,
    run_project,
)
from mocap3d.pipeline.config import ProjectError
from mocap3d.pipeline.sample_project import make_sample_project

FRAMES = 120


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Three generated sessions (nested in day1/, day2/), never modified: tests copy it."""
    root = tmp_path_factory.mktemp("template") / "project"
    make_sample_project(root, n_sessions=3, n_frames=FRAMES)
    return root


@pytest.fixture
def project(template, tmp_path) -> Path:
    dst = tmp_path / "project"
    shutil.copytree(template, dst)
    return dst


def _records(project: Path) -> dict[str, dict]:
    return {str(p.relative_to(project)): json.loads(p.read_text()) for p in sorted(project.rglob(".mocap3d/*.json"))}


# --- layout and config -------------------------------------------------------------------------------------------


def test_sessions_found_nested_in_order(project):
    names = [s.name for s in find_sessions(project)]
    assert names == ["day1/walk01", "day1/walk03", "day2/walk02"]


def test_calibration_inherited_from_parent_folder(project):
    session = next(s for s in find_sessions(project) if s.name == "day2/walk02")
    own = session.path / "calibration.toml"
    assert find_calibration(session) == own
    shutil.move(own, project / "day2" / "calibration.toml")
    assert find_calibration(session) == project / "day2" / "calibration.toml"
    (project / "day2" / "calibration.toml").rename(project / "calibration.toml")
    assert find_calibration(session) == project / "calibration.toml"
    (project / "calibration.toml").unlink()
    assert find_calibration(session) is None


def test_config_tables_become_typed_configs(project):
    config = load_config(project)
    assert config.project.fps == 60.0
    assert config.triangulation.method == "robust"
    assert [s.describe()["name"] for s in config.filters.filter2d] == ["median"]
    assert [s.describe()["name"] for s in config.filters.filter3d] == ["butterworth"]
    assert set(config.angles) == {"l_knee", "r_knee", "l_hip", "r_hip"}
    assert config.export.formats == ("trc",)


@pytest.mark.parametrize(
    "text, words",
    [
        ("[triangulaton]\nmethod = 'dlt'\n", ["unknown table", "triangulaton"]),
        ("[triangulation]\nmethd = 'dlt'\n", ["methd"]),
        ("[export]\nformats = ['fbx']\n", ["fbx", "trc"]),
        ("[sync]\nmethod = 'clap'\n", ["clap", "epipolar"]),
        ("[project\n", ["not valid TOML"]),
    ],
)
def test_config_mistakes_are_explained(tmp_path, text, words):
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(MocapError) as err:
        load_config(tmp_path)
    for word in words:
        assert word in str(err.value)


def test_stage_params_change_with_their_table_only():
    base = ProjectConfig.from_dict({"triangulation": {"method": "robust"}})
    other = ProjectConfig.from_dict({"triangulation": {"method": "dlt"}})
    assert base.params("triangulation") != other.params("triangulation")
    assert base.params("angles", "export") == other.params("angles", "export")


# --- a serial run -------------------------------------------------------------------------------------------------


def test_run_writes_every_stage_and_matches_truth(project):
    report = run_project(project, workers=0, progress=False)
    assert not report.failed, report.table()
    for result in report.sessions:
        status = {s.stage: s.status for s in result.stages}
        assert status == {"calibrate": "not needed", "train": "not needed", "analyze": "not needed",
                          "sync": "not needed", "gait": "not needed", "filter2d": "done", "triangulate": "done",
                          "filter3d": "done", "angles": "done",
                          "export": "done"}  # fmt: skip
    session = project / "day1" / "walk01"
    truth = load_h5(session / "ground_truth.h5")
    for path in (session / "pose-3d" / "walk01.h5", session / "pose-3d-filtered" / "walk01.h5"):
        poses = load_h5(path)
        err = np.linalg.norm(poses.points - truth.points, axis=-1)
        assert np.isfinite(err).mean() > 0.95
        assert np.nanmedian(err) < 15.0  # mm; the sample's robust triangulation gives ~8 mm
    angles = (session / "angles" / "walk01.csv").read_text().splitlines()
    assert angles[0] == "l_knee,r_knee,l_hip,r_hip,fnum" and len(angles) == FRAMES + 1
    assert (session / "exports" / "walk01.trc").read_text().startswith("PathFileType")
    meta = load_h5(session / "pose-3d" / "walk01.h5").metadata
    assert meta["calibration"] == "day1/walk01/calibration.toml"  # relative: projects can move
    assert sorted(_records(project)) == sorted(
        f"{s}/.mocap3d/{st}.json" for s in ("day1/walk01", "day1/walk03", "day2/walk02")
        for st in ("filter2d", "triangulate", "filter3d", "angles", "export")
    )  # fmt: skip


def test_rerun_skips_everything_and_touches_nothing(project):
    run_project(project, workers=0, progress=False)
    before = {p: p.stat().st_mtime_ns for p in project.rglob("*") if p.is_file()}
    report = run_project(project, workers=0, progress=False)
    assert report.scheduler == "nothing to do"
    assert all(s.count("done") == 0 and s.count("skipped") == 5 for s in report.sessions)
    after = {p: p.stat().st_mtime_ns for p in project.rglob("*") if p.is_file()}
    assert before == after


def test_changed_parameter_reruns_only_the_stages_it_affects(project):
    run_project(project, workers=0, progress=False)
    config = project / "config.toml"
    config.write_text(config.read_text().replace('l_hip = ["pelvis", "l_hip", "l_knee"]\n', ""))
    report = run_project(project, workers=0, progress=False)
    for s in report.sessions:
        status = {o.stage: o.status for o in s.stages}
        assert status["angles"] == "done"
        assert status["triangulate"] == status["filter3d"] == status["export"] == "skipped"
    header = (project / "day1" / "walk01" / "angles" / "walk01.csv").read_text().splitlines()[0]
    assert header == "l_knee,r_knee,r_hip,fnum"


def test_edited_input_or_deleted_output_reruns_downstream(project):
    run_project(project, workers=0, progress=False)
    session = project / "day1" / "walk03"
    (session / "pose-3d-filtered" / "walk03.h5").unlink()
    report = run_project(project, workers=0, progress=False)
    by_name = {s.session: {o.stage: o.status for o in s.stages} for s in report.sessions}
    assert by_name["day1/walk03"]["filter3d"] == "done"
    assert by_name["day1/walk03"]["triangulate"] == "skipped"
    assert by_name["day1/walk01"]["filter3d"] == "skipped"
    # The rewritten filter3d output is the same bytes, so angles and exports stay valid (hash check after mtime).
    assert by_name["day1/walk03"]["angles"] == "skipped"


def test_same_bytes_touched_input_is_not_a_change(project):
    run_project(project, workers=0, progress=False)
    calib = project / "day1" / "walk01" / "calibration.toml"
    os.utime(calib, ns=(calib.stat().st_atime_ns, calib.stat().st_mtime_ns + 10**9))
    report = run_project(project, workers=0, progress=False)
    assert all(s.count("done") == 0 for s in report.sessions)


def test_stage_selection(project):
    report = run_project(project, stages=["triangulate"], workers=0, progress=False)
    assert report.failed  # triangulate reads pose-2d-filtered/, which only filter2d writes
    assert "pose-2d-filtered" in report.failed[0].error
    report = run_project(project, stages=["filter2d", "triangulate"], workers=0, progress=False)
    assert not report.failed
    assert {o.stage for s in report.sessions for o in s.stages} == {"filter2d", "triangulate"}
    with pytest.raises(ProjectError, match="unknown stage"):
        run_project(project, stages=["triangulat"], workers=0, progress=False)


# --- broken sessions ----------------------------------------------------------------------------------------------


def test_broken_sessions_reported_others_complete(project):
    truncated = project / "day1" / "walk01" / "pose-2d" / "cam2.h5"
    truncated.write_bytes(truncated.read_bytes()[:5000])
    (project / "day2" / "walk02" / "pose-2d" / "cam3.h5").unlink()
    report = run_project(project, workers=0, progress=False)
    errors = {s.session: s.error for s in report.sessions}
    assert errors["day1/walk03"] == ""
    assert errors["day1/walk01"].startswith("filter2d:") and "cam2.h5" in errors["day1/walk01"]
    assert "cam3" in errors["day2/walk02"] and "require_all_cameras" in errors["day2/walk02"]
    assert (project / "day1" / "walk03" / "exports" / "walk03.trc").exists()
    table = report.table()
    assert "FAILED" in table and "1 of 3 sessions ok" in table


def test_missing_camera_allowed_when_configured(project):
    (project / "day2" / "walk02" / "pose-2d" / "cam3.h5").unlink()
    config = project / "config.toml"
    config.write_text(config.read_text().replace("require_all_cameras = true", "require_all_cameras = false"))
    report = run_project(project, workers=0, progress=False)
    assert not report.failed
    assert load_h5(project / "day2" / "walk02" / "pose-3d" / "walk02.h5").views == ("cam1", "cam2", "cam4")


def test_no_calibration_is_explained(project):
    (project / "day2" / "walk02" / "calibration.toml").unlink()
    report = run_project(project, workers=0, progress=False)
    (failed,) = report.failed
    assert failed.session == "day2/walk02" and "no calibration" in failed.error


def test_videos_without_2d_files_and_no_network(tmp_path):
    session = tmp_path / "s1"
    (session / "videos-raw").mkdir(parents=True)
    (session / "videos-raw" / "cam1.mp4").write_bytes(b"")
    report = run_project(tmp_path, stages=["analyze"], workers=0, progress=False)
    assert "pose-2d" in report.failed[0].error


def test_analyze_stage_runs_the_configured_network(project, tmp_path, monkeypatch):
    session = project / "day1" / "walk01"
    _, calls, config = use_fake_network(project, session, tmp_path, "fake_net")
    monkeypatch.syspath_prepend(str(tmp_path))
    report = run_project(project, workers=0, progress=False)
    assert not report.failed, report.table()
    status = {s.session: {o.stage: o.status for o in s.stages} for s in report.sessions}
    assert status["day1/walk01"]["analyze"] == "done" and status["day1/walk03"]["analyze"] == "not needed"
    assert (session / "pose-3d" / "walk01.h5").exists()
    run_project(project, workers=0, progress=False)
    assert len(calls.read_text().splitlines()) == 1  # complete: not analysed again
    config.write_text(config.read_text().replace('analyzer = "fake_net:analyze"', 'analyzer = "fake_net:missing"'))
    shutil.rmtree(session / "pose-2d")
    report = run_project(project, workers=0, progress=False)
    assert "fake_net:missing" in report.failed[0].error and "pose-2d" in report.failed[0].error


def test_partial_files_of_a_killed_write_are_removed(project):
    run_project(project, workers=0, progress=False)
    out_dir = project / "day1" / "walk01" / "pose-3d"
    leftover = out_dir / ".walk01.h5.abc123.h5"
    leftover.write_bytes(b"half a file")
    notes = out_dir / ".notes.txt"  # a user's hidden file is not ours to delete
    notes.write_text("keep me")
    (project / "day1" / "walk01" / ".mocap3d" / "triangulate.json").unlink()  # as if killed before the record
    report = run_project(project, workers=0, progress=False)
    assert not leftover.exists() and notes.exists()
    status = {o.stage: o.status for o in report.sessions[0].stages}
    assert status["triangulate"] == "done" and status["filter3d"] == "skipped"  # same bytes again


def test_a_session_in_use_by_another_process_is_left_alone(project):
    import json
    import socket
    import subprocess
    import sys

    lock = project / "day1" / "walk01" / ".mocap3d" / "lock"
    lock.parent.mkdir(parents=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(json.dumps({"host": socket.gethostname(), "pid": other.pid}))
        report = run_project(project, workers=0, progress=False)
        (failed,) = report.failed
        assert failed.session == "day1/walk01" and f"process {other.pid}" in failed.error and str(lock) in failed.error
        assert not (project / "day1" / "walk01" / "pose-3d").exists()
    finally:
        other.kill()
        other.wait()
    report = run_project(project, workers=0, progress=False)  # the holder is gone: its lock is taken over
    assert not report.failed and not lock.exists()


def test_a_finished_sessions_stale_lock_is_removed_and_a_live_one_kept(project):
    """A run killed after a session's last record but before it let go of the lock leaves a stale lock behind."""
    import json
    import socket
    import subprocess
    import sys

    assert not run_project(project, workers=0, progress=False).failed
    lock = project / "day1" / "walk01" / ".mocap3d" / "lock"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(json.dumps({"host": socket.gethostname(), "pid": other.pid}))
        again = run_project(project, workers=0, progress=False)
        assert again.scheduler == "nothing to do" and lock.exists()  # its holder is alive
    finally:
        other.kill()
        other.wait()
    again = run_project(project, workers=0, progress=False)
    assert again.scheduler == "nothing to do" and not again.failed and not lock.exists()


# --- command line -------------------------------------------------------------------------------------------------


def test_cli_new_project_and_run(tmp_path):
    runner = CliRunner()
    root = tmp_path / "p"
    res = runner.invoke(cli, ["new-project", str(root), "--sessions", "2", "--frames", "60", "--groups", "0"])
    assert res.exit_code == 0, res.output
    assert "walk01, walk02" in res.output
    res = runner.invoke(cli, ["run", str(root), "--workers", "0", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "2 of 2 sessions ok" in res.output
    (root / "walk02" / "pose-2d" / "cam1.h5").unlink()
    (root / "walk02" / ".mocap3d" / "filter2d.json").unlink()
    res = runner.invoke(cli, ["run", str(root), "--workers", "0", "--no-progress"])
    assert res.exit_code == 1 and "FAILED" in res.output and "cam1" in res.output
    res = runner.invoke(cli, ["new-project", str(root)])
    assert res.exit_code == 1 and "already exists" in res.output


@pytest.mark.parametrize("name", ["run", "new-project", "sync"])
def test_cli_help_has_examples(name):
    res = CliRunner().invoke(cli, [name, "--help"])
    assert res.exit_code == 0 and "Examples" in res.output


def test_cli_run_unknown_stage_and_missing_project(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["run", str(tmp_path / "nope"), "--workers", "0"])
    assert res.exit_code == 1 and "does not exist" in res.output
    res = runner.invoke(cli, ["run", str(tmp_path), "--workers", "0"])
    assert res.exit_code == 1 and "no session" in res.output
    res = runner.invoke(cli, ["run", str(tmp_path), "--stages", "bogus", "--workers", "0"])
    assert res.exit_code == 1 and "unknown stage" in res.output


def test_stage_order_is_the_documented_one():
    assert STAGE_ORDER == ("calibrate", "train", "analyze", "sync", "filter2d", "triangulate", "filter3d", "angles",
                           "gait", "export")  # fmt: skip


def test_calibration_reference_gives_the_world_frame():
    """``[calibration] reference``: a new calibration moved rigidly onto an earlier one's camera centres."""
    from mocap3d.calibration.pipeline import align_to_reference
    from mocap3d.camera import rodrigues, rotation_to_rodrigues
    from mocap3d.errors import CalibrationError
    from mocap3d.sample import make_rig

    ref = make_rig(4)
    r = rodrigues(np.array([0.3, -1.2, 0.5]))
    t = np.array([100.0, -2000.0, 40.0])
    # the same cameras in another world frame (x_other = r x + t), as a calibration in camera 1's frame would be
    # x_cam = R x + tvec = R r^T (x_other - t) + tvec
    moved = ref.replace(rvec=rotation_to_rodrigues(ref.R @ r.T), tvec=ref.tvec - np.einsum("cij,j->ci", ref.R @ r.T, t))
    np.testing.assert_allclose(moved.centers(), ref.centers() @ r.T + t, atol=1e-9)
    back = align_to_reference(moved, ref)
    np.testing.assert_allclose(back.centers(), ref.centers(), atol=1e-6)
    np.testing.assert_allclose(back.R, ref.R, atol=1e-9)
    pts = np.random.default_rng(0).normal(0, 500, (7, 3)) + [0, 0, 900]
    np.testing.assert_allclose(back.project(pts[None])[:, 0], ref.project(pts[None])[:, 0], atol=1e-6)
    with pytest.raises(CalibrationError, match="at least 3 cameras"):
        align_to_reference(moved, ref.select(["cam1", "cam2"]))
    for bad, what in (({"reference": 3}, "reference must be"), ({"pictures": "yes"}, "pictures must be")):
        with pytest.raises(ProjectError, match=what):
            ProjectConfig.from_dict({"calibration": bad})
    cfg = ProjectConfig.from_dict({"calibration": {"board": "b.toml", "reference": "lab.toml", "pictures": True}})
    assert cfg.calibration_reference == "lab.toml" and cfg.calibration_pictures
