"""`mocap3d run` on an anipose project folder as it is, compared with anipose's own triangulate/compute-angles."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from _anipose_helpers import TRIALS, make_anipose_project
from click.testing import CliRunner

from mocap3d.cli import cli as main
from mocap3d.pipeline.anipose_project import (
    anipose_sessions,
    is_anipose_config,
    read_anipose_config,
    session_trials,
)
from mocap3d.pipeline.runner import run_project


def _csvs(root, folder):
    return sorted(p.relative_to(root).as_posix() for p in root.glob(f"*/{folder}/*.csv"))


def test_config_sessions_and_trials(tmp_path):
    root = make_anipose_project(tmp_path / "proj", frames=4)
    (root / "session1" / "pose-2d" / "notes.h5").write_bytes(b"")  # no camera in its name: ignored, as anipose
    config = read_anipose_config(root)
    assert config is not None and config["nesting"] == 1
    assert config["triangulation"]["optim_chunking_size"] == 1000  # anipose's defaults fill what the file omits
    assert config["pipeline"]["pose_3d"] == "pose-3d" and config["filter"]["enabled"] is False
    assert [p.name for p in anipose_sessions(config)] == ["session1", "session2"]
    trials = session_trials(config, root / "session1")
    assert [t.name for t in trials] == ["walk-1", "walk-2", "walk-10"]  # anipose's natural order
    assert list(trials[0].files) == ["A", "B", "C"]
    assert not is_anipose_config({"triangulation": {"method": "robust"}, "project": {"fps": 60}})


def test_run_writes_anipose_outputs_and_resumes(tmp_path):
    root = make_anipose_project(tmp_path / "proj", frames=6)
    inputs = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    report = run_project(root, workers=0, progress=False)
    assert not report.failed and len(report.sessions) == 2
    expected = sorted(f"{s}/pose-3d/{t}.csv" for s in ("session1", "session2") for t in TRIALS)
    assert _csvs(root, "pose-3d") == expected
    assert _csvs(root, "angles") == [e.replace("pose-3d", "angles") for e in expected]
    df = pd.read_csv(root / "session1" / "pose-3d" / "walk-2.csv")
    assert df["fnum"].tolist() == list(range(6)) and "l_knee_score" in df
    assert all(p.read_bytes() == b for p, b in inputs.items())  # inputs untouched
    stamp = (root / "session1" / "pose-3d" / "walk-1.csv").stat().st_mtime_ns
    again = run_project(root, workers=0, progress=False)
    assert all(o.status == "skipped" for s in again.sessions for o in s.stages)  # as anipose: existing outputs stay
    assert (root / "session1" / "pose-3d" / "walk-1.csv").stat().st_mtime_ns == stamp
    forced = run_project(root, workers=0, progress=False, force=True)
    assert all(o.status == "done" for s in forced.sessions for o in s.stages)


def test_cli_errors_are_one_sentence(tmp_path):
    root = make_anipose_project(tmp_path / "proj", frames=3, sessions=("session1",))
    text = (root / "config.toml").read_text()
    (root / "config.toml").write_text(text.replace("cam_regex = '-cam([A-Z])$'\n", ""))
    result = CliRunner().invoke(main, ["run", str(root), "--workers", "0", "--no-progress"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "has no cam_regex" in result.output and "'-cam([A-Z])$'" in result.output
    assert "['c'" not in result.output
    (root / "config.toml").write_text(text.replace("nesting = 1", "nesting = 'two'"))
    result = CliRunner().invoke(main, ["run", str(root), "--workers", "0", "--no-progress"])
    assert result.exit_code == 1 and "nesting = 'two'" in result.output
    (root / "config.toml").write_text(text)
    result = CliRunner().invoke(main, ["run", str(root), "--stages", "calibrate", "--no-progress"])
    assert result.exit_code == 1 and "do not apply to an anipose project" in result.output
    shutil.rmtree(root / "session1" / "calibration")
    result = CliRunner().invoke(main, ["run", str(root), "--workers", "0", "--no-progress"])
    assert result.exit_code == 1 and "no calibration" in result.output


def test_same_files_and_numbers_as_anipose(tmp_path):
    """anipose 1.1.24's own triangulate and compute-angles on a copy of the project give the same CSVs."""
    pytest.importorskip("aniposelib")
    pytest.importorskip("jax")
    ani_triangulate = pytest.importorskip("anipose.triangulate")
    ani_angles = pytest.importorskip("anipose.compute_angles")
    from anipose.anipose import load_config as anipose_load_config

    ours = make_anipose_project(tmp_path / "ours", align=True)
    theirs = tmp_path / "theirs"
    shutil.copytree(ours, theirs)
    report = run_project(ours, workers=0, progress=False)
    assert not report.failed
    config = anipose_load_config(str(theirs / "config.toml"))
    with pytest.warns():  # pandas' fragmentation warnings from anipose's writer
        ani_triangulate.triangulate_all(config)
    ani_angles.compute_angles_all(config)
    assert _csvs(ours, "pose-3d") == _csvs(theirs, "pose-3d") and len(_csvs(ours, "pose-3d")) == 6
    assert _csvs(ours, "angles") == _csvs(theirs, "angles")
    worst = 0.0
    for name in _csvs(ours, "pose-3d"):
        a, b = pd.read_csv(ours / name), pd.read_csv(theirs / name)
        assert list(a.columns) == list(b.columns)
        np.testing.assert_array_equal(a.isna().to_numpy(), b.isna().to_numpy())  # NaN exactly where anipose's
        xyz = [c for c in a.columns if c[-2:] in ("_x", "_y", "_z")]
        worst = max(worst, float(np.nanmax(np.abs(a[xyz].to_numpy() - b[xyz].to_numpy()))))
        exact = [c for c in a.columns if c.endswith(("_ncams", "_score")) or c == "fnum"]
        np.testing.assert_array_equal(a[exact].to_numpy(), b[exact].to_numpy())
        err = [c for c in a.columns if c.endswith("_error")]
        np.testing.assert_allclose(a[err].to_numpy(), b[err].to_numpy(), rtol=1e-9, atol=1e-9)
        frame = [c for c in a.columns if c.startswith(("M_", "center_"))]  # the alignment, anipose's meaning
        np.testing.assert_allclose(a[frame].to_numpy(), b[frame].to_numpy(), rtol=1e-12, atol=1e-9)
        assert not np.allclose(a[frame[:9]].to_numpy()[0], np.eye(3).ravel())
    assert worst < 1e-6  # mm
    for name in _csvs(ours, "angles"):
        a, b = pd.read_csv(ours / name), pd.read_csv(theirs / name)
        assert list(a.columns) == list(b.columns)
        np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("nesting", [0, 2])
def test_nesting_and_calibration_search(tmp_path, nesting):
    """Sessions are the folders `nesting` levels down; a calibration/ folder is looked for up to the project."""
    from mocap3d.pipeline.anipose_project import find_anipose_calibration

    root = tmp_path / "proj"
    made = make_anipose_project(tmp_path / "made", frames=3, sessions=("s",), trials=("t1",))
    session = root if nesting == 0 else root / "animal1" / "day1"
    shutil.copytree(made / "s" / "pose-2d", session / "pose-2d")
    calib_home = root if nesting == 0 else root / "animal1"  # shared by the sessions below it
    shutil.copytree(made / "s" / "calibration", calib_home / "calibration")
    text = (made / "config.toml").read_text().replace("nesting = 1", f"nesting = {nesting}")
    (root / "config.toml").write_text(text)
    config = read_anipose_config(root)
    sessions = anipose_sessions(config)
    # as anipose: every folder at the nesting level is visited (animal1/calibration holds no trial)
    expected = [root] if nesting == 0 else [root / "animal1" / "calibration", root / "animal1" / "day1"]
    assert sessions == expected
    assert find_anipose_calibration(config, session) == calib_home / "calibration" / "calibration.toml"
    report = run_project(root, workers=0, progress=False)
    assert not report.failed and (session / "pose-3d" / "t1.csv").is_file()
    assert [r.session for r in report.sessions] == (["proj"] if nesting == 0 else ["animal1/day1"])
