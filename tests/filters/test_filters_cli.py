"""``mocap3d filter-2d`` and ``mocap3d filter-3d`` through click's CliRunner.

Inputs are written with the project's own writers from synthetic data with a
known answer (the sample rig's projected truth, a sine with a spike), plus
Pose2Sim's raw and filtered TRC (real data, skipped when absent).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.io.pose2d import load_track2d, save_dlc, save_sleap_analysis
from mocap3d.io.pose3d import load_h5, load_poses3d, load_trc, save_poses3d
from mocap3d.poses import Poses3D, Track2D


def _run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("command", ["filter-2d", "filter-3d"])
def test_help_has_an_example(command):
    result = _run(command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output and f"mocap3d {command} --" in result.output


# --------------------------------------------------------------------------- filter-3d
@pytest.fixture
def spiky_poses() -> tuple[Poses3D, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(240) / 60.0
    clean = np.stack([100 * np.sin(t), 50 * np.cos(t), 900 + 20 * t], -1)[:, None, :] + np.array([[[0], [300]]])
    pts = clean + rng.normal(0, 1.0, clean.shape)
    pts[120, 1, 2] += 400.0  # a spike
    pts[60:64, 0] = np.nan  # a short gap
    return Poses3D(keypoints=("a", "b"), points=pts, fps=60.0, metadata={"units": "mm"}), clean


def test_filter_3d_h5_records_steps(tmp_path: Path, spiky_poses):
    poses, clean = spiky_poses
    src = save_poses3d(poses, tmp_path / "pose3d.h5")
    cfg = tmp_path / "filters.toml"
    cfg.write_text('[[filter3d]]\ntype = "hampel"\n\n[[filter3d]]\ntype = "fill"\nmax_gap = 5\nmethod = "pchip"\n')
    out = tmp_path / "filtered.h5"
    result = _run("filter-3d", "--config", cfg, "--out", out, src)
    assert result.exit_code == 0, result.output
    assert "hampel: outliers 1" in result.output
    got = load_h5(out)
    assert [r["name"] for r in got.metadata["filters"]] == ["hampel", "fill"]
    assert got.metadata["filters"][1]["params"] == {"max_gap": 5, "method": "pchip"}
    assert abs(got.points[120, 1, 2] - clean[120, 1, 2]) < 5.0  # spike replaced by the local median
    assert np.abs(got.points[60:64, 0] - clean[60:64, 0]).max() < 5.0  # gap filled
    assert got.fps == 60.0 and got.metadata["units"] == "mm"


def test_filter_3d_csv_needs_fps_for_butterworth(tmp_path: Path, spiky_poses):
    poses, clean = spiky_poses
    src = save_poses3d(poses, tmp_path / "pose3d.csv")  # anipose CSV: no frame rate inside
    out = tmp_path / "smooth.csv"
    result = CliRunner().invoke(cli, ["filter-3d", "--filter", "butterworth", "--out", str(out), str(src)])
    assert result.exit_code == 1 and "pass --fps" in result.output and "Traceback" not in result.output
    result = _run("filter-3d", "--filter", "butterworth", "--cutoff", "5", "--fps", "60", "--out", out, src)
    assert result.exit_code == 0, result.output
    got = load_poses3d(out)
    ok = np.isfinite(poses.points).all(-1)
    ok[110:131, 1] = False  # around the spike a low-pass filter spreads it; that is what Hampel is for
    assert np.sqrt(np.mean((got.points[ok] - clean[ok]) ** 2)) < 0.7  # below the 1 mm noise


def test_filter_3d_option_errors_and_resume(tmp_path: Path, spiky_poses):
    poses, _ = spiky_poses
    src = save_poses3d(poses, tmp_path / "pose3d.h5")
    out = tmp_path / "out.h5"
    bad = CliRunner().invoke(cli, ["filter-3d", "--filter", "median", "--cutoff", "6", "--out", str(out), str(src)])
    assert bad.exit_code == 1 and "unknown parameter(s) cutoff; valid ones are window" in bad.output
    none = CliRunner().invoke(cli, ["filter-3d", "--out", str(out), str(src)])
    assert none.exit_code == 1 and "--filter NAME" in none.output
    same = CliRunner().invoke(cli, ["filter-3d", "--filter", "median", "--out", str(src), str(src)])
    assert same.exit_code == 1 and "is one of the inputs" in same.output
    assert _run("filter-3d", "--filter", "median", "--out", out, src).exit_code == 0
    first = out.stat().st_mtime_ns
    again = _run("filter-3d", "--filter", "median", "--window", "9", "--out", out, src)
    assert "skipped 1 existing output" in again.output and out.stat().st_mtime_ns == first
    redo = _run("filter-3d", "--filter", "median", "--window", "9", "--overwrite", "--out", out, src)
    assert redo.exit_code == 0 and load_h5(out).metadata["filters"][-1]["params"] == {"window": 9}


def test_filter_3d_reproduces_pose2sim_trc(tmp_path: Path, dataset):
    pose3d = (
        dataset("pose2sim-demo")
        / "Pose2Sim/S00_Demo_Session/S00_P00_SingleParticipant/S00_P00_T01_BalancingTrial/pose-3d"
    )
    out = tmp_path / "filt.trc"
    result = _run(
        "filter-3d", "--filter", "butterworth", "--cutoff", "6", "--order", "4", "--fps", "60", "--out", out,
        pose3d / "S00_P00_T01_BalancingTrial_0-100.trc",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ref = load_trc(pose3d / "S00_P00_T01_BalancingTrial_0-100_filt_butterworth.trc")
    got = load_trc(out)
    assert got.metadata["units"] == "m" and got.points.shape == ref.points.shape == (100, 21, 3)
    assert np.abs(got.points - ref.points).max() < 1e-6  # metres
    assert got.keypoints == ref.keypoints


# --------------------------------------------------------------------------- filter-2d
@pytest.fixture(scope="module")
def sample():
    from mocap3d.sample import make_sample

    s = make_sample(n_frames=200, n_cameras=2, seed=3)
    return s, s.rig.project(s.truth.points)


def _track(sample, view: int) -> Track2D:
    s, _ = sample
    return Track2D(
        points=s.poses2d.points[view][:, None], scores=s.poses2d.scores[view][:, None], keypoints=s.poses2d.keypoints
    )


def _far_off(points: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of detections more than 20 px from the truth."""
    return float(np.mean(np.linalg.norm(points - truth, axis=-1) > 20))


def test_filter_2d_config_on_dlc_files(tmp_path: Path, sample):
    s, truth2d = sample
    src = [save_dlc(_track(sample, v), tmp_path / "pose-2d" / f"cam-{name}.h5") for v, name in enumerate(s.rig.names)]
    cfg = tmp_path / "filters.toml"
    cfg.write_text(
        '[[filter2d]]\ntype = "likelihood"\nthreshold = 0.3\n\n'
        '[[filter2d]]\ntype = "median"\nwindow = 7\noffset_threshold = 20.0\nmax_gap = 0\n'
    )
    out = tmp_path / "pose-2d-filtered"
    result = _run("filter-2d", "--config", cfg, "--out", out, *src)
    assert result.exit_code == 0, result.output
    assert "filters: likelihood -> median" in result.output
    for v, path in enumerate(src):
        got = load_track2d(out / path.name)
        assert got.keypoints == s.poses2d.keypoints and got.n_frames == 200
        before = _far_off(s.poses2d.points[v], truth2d[v])
        after = _far_off(got.points[:, 0], truth2d[v])
        assert before > 0.08 and after < 0.01  # ~10% confident outliers -> under 1%


def test_filter_2d_single_file_viterbi_and_anipose_config(tmp_path: Path, sample):
    s, truth2d = sample
    src = save_dlc(_track(sample, 1), tmp_path / "cam-B.csv")
    out = tmp_path / "cam-B-filtered.csv"
    result = _run("filter-2d", "--filter", "viterbi", "--n-back", "3", "--out", out, src)
    assert result.exit_code == 0, result.output
    assert _far_off(load_track2d(out).points[:, 0], truth2d[1]) < 0.01
    anipose = tmp_path / "config.toml"
    anipose.write_text(  # an anipose project config: its [filter] section is used, other keys ignored
        'project = "demo"\n[filter]\nenabled = true\ntype = "medfilt"\nmedfilt = 7\noffset_threshold = 20\n'
    )
    result = _run("filter-2d", "--config", anipose, "--out", tmp_path / "x", src)
    assert result.exit_code == 0, result.output
    assert "filters: median" in result.output
    assert _far_off(load_track2d(tmp_path / "x" / src.name).points[:, 0], truth2d[1]) < 0.01


def test_filter_2d_sleap_keeps_format(tmp_path: Path, sample):
    s, truth2d = sample
    src = save_sleap_analysis(_track(sample, 0), tmp_path / "cam-A.analysis.h5")
    result = _run("filter-2d", "--filter", "median", "--offset-threshold", "20", "--out", tmp_path / "f", src)
    assert result.exit_code == 0, result.output
    import h5py

    with h5py.File(tmp_path / "f" / src.name, "r") as f:
        assert "tracks" in f  # still a SLEAP analysis file
    assert _far_off(load_track2d(tmp_path / "f" / src.name).points[:, 0], truth2d[0]) < 0.01


def test_filter_2d_errors(tmp_path: Path, sample):
    src = save_dlc(_track(sample, 0), tmp_path / "cam-A.h5")
    cases = [
        (["--out", str(tmp_path / "o")], "--filter NAME"),
        (["--filter", "likelihood", "--window", "5", "--out", str(tmp_path / "o")], "unknown parameter(s) window"),
        (["--filter", "median", "--window", "4", "--out", str(tmp_path / "o")], "odd number of frames"),
        (["--filter", "median", "--out", str(src)], "is one of the inputs"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(cli, ["filter-2d", *args, str(src)])
        assert result.exit_code == 1 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_filter_2d_openpose_folders_keep_names(tmp_path: Path, dataset):
    trial = dataset("pose2sim-demo") / "Pose2Sim/S00_Demo_Session/S00_P00_SingleParticipant/S00_P00_T01_BalancingTrial"
    src = trial / "pose-associated" / "cam02_json"
    result = _run("filter-2d", "--filter", "median", "--keypoint-preset", "BODY_25B", "--out", tmp_path, src)
    assert result.exit_code == 0, result.output
    out = tmp_path / "cam02_json"
    assert sorted(p.name for p in out.glob("*.json")) == sorted(p.name for p in src.glob("*.json"))
    before = load_track2d(src, keypoint_preset="BODY_25B")
    after = load_track2d(out, keypoint_preset="BODY_25B")
    assert after.points.shape == before.points.shape and after.keypoints == before.keypoints
    both = np.isfinite(before.points).all(-1) & np.isfinite(after.points).all(-1)
    same = np.all(np.abs(after.points - before.points) < 1e-9, axis=-1) & both
    # Real OpenPose on a slow balancing trial: nearly every detection is within 20 px of its running median.
    assert same.sum() > 0.97 * np.isfinite(before.points).all(-1).sum()
