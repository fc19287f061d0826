"""Gait events and spatiotemporal parameters against the sample rig's exact gait truth.

The sample walker (mocap3d.sample) plants each foot for 60% of a 1.1 s stride,
walks at 1000 mm/s with 1100 mm strides and its feet 220 mm apart, and lists
every true foot strike and toe off frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mocap3d.analysis.gait import (
    GaitConfig,
    analyze_gait,
    detect_gait_events,
    event_accuracy,
    foot_keypoints,
    save_gait,
)
from mocap3d.errors import MocapError
from mocap3d.poses import Poses3D

sample = pytest.importorskip("mocap3d.sample")

N_FRAMES = 600  # 10 s at 60 fps: 36 true events


@pytest.fixture(scope="module")
def walk():
    return sample.make_sample(n_frames=N_FRAMES, seed=0)


def _noisy(poses: Poses3D, sd: float, seed: int) -> Poses3D:
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, sd, poses.points.shape)
    return Poses3D(keypoints=poses.keypoints, points=poses.points + noise, fps=poses.fps)


def _check_acceptance(found, truth, min_fraction=0.95):
    acc = event_accuracy(found, truth, tolerance=2)
    assert acc["n_true"] == 36
    assert acc["recall"] >= min_fraction, acc
    assert acc["precision"] >= min_fraction, acc  # no invented events either
    return acc


def test_events_on_true_3d(walk):
    events, *_ = detect_gait_events(walk.truth)
    acc = _check_acceptance(events, walk.events)
    assert acc["recall"] == 1.0 and np.abs(acc["errors"]).max() <= 1


@pytest.mark.parametrize("sd,seed", [(5.0, 1), (5.0, 2), (8.0, 3)])
def test_events_on_noisy_3d(walk, sd, seed):
    """Gaussian noise of 5-8 mm per coordinate (a good markerless reconstruction is 5-10 mm off)."""
    events, *_ = detect_gait_events(_noisy(walk.truth, sd, seed))
    _check_acceptance(events, walk.events)


def test_events_on_triangulated_sample(walk):
    """The sample's noisy 2D (1.5 px, 10% confident outliers, occlusion gaps) through our triangulation."""
    tri_mod = pytest.importorskip("mocap3d.triangulation")
    poses = tri_mod.triangulate(walk.poses2d, walk.rig, tri_mod.TriangulationConfig())
    events, *_ = detect_gait_events(poses)
    _check_acceptance(events, walk.events)


def test_events_are_each_foots_contact_changes(walk):
    """Strikes and offs alternate per foot, and the contact mask agrees with the truth's."""
    events, contact, _, _ = detect_gait_events(walk.truth)
    for side, foot in (("left", "l_heel"), ("right", "r_heel")):
        kinds = events[events.side == side].sort_values("frame")["event"].tolist()
        assert all(a != b for a, b in zip(kinds[:-1], kinds[1:], strict=True))
        agree = (contact[side] == walk.contacts[foot]).mean()
        assert agree > 0.97


def test_spatiotemporal_parameters_match_the_walker(walk):
    result = analyze_gait(_noisy(walk.truth, 3.0, 7))
    s = result.summary
    fps = walk.fps
    assert s.loc["stride_time", "all"] == pytest.approx(1.1, abs=1.0 / fps)
    assert s.loc["stride_length", "all"] == pytest.approx(1100.0, abs=10.0)
    assert s.loc["speed", "all"] == pytest.approx(1000.0, abs=20.0)
    assert s.loc["stance_fraction", "all"] == pytest.approx(0.6, abs=2.0 / 66)
    assert s.loc["swing_fraction", "all"] == pytest.approx(0.4, abs=2.0 / 66)
    assert s.loc["step_time", "all"] == pytest.approx(0.55, abs=1.0 / fps)
    assert s.loc["step_length", "all"] == pytest.approx(550.0, abs=10.0)
    # heel/toe/ankle keypoints sit 110 mm either side of the midline
    assert s.loc["step_width", "all"] == pytest.approx(220.0, abs=5.0)
    assert s.loc["cadence", "all"] == pytest.approx(60 / 0.55, rel=0.03)
    assert s.loc["stride_time", "symmetry_index"] < 3.0  # the walker is symmetric
    assert len(result.strides) >= 14


def test_asymmetry_shows_in_the_symmetry_index():
    """A limping walker: left stance 60% of the stride, right stance 50% (two sample walks spliced)."""
    kp = sample.KEYPOINTS
    p_left, _, ev_left = sample.walk(n_frames=N_FRAMES, stance=0.6)
    p_right, _, ev_right = sample.walk(n_frames=N_FRAMES, stance=0.5)
    right = [i for i, k in enumerate(kp) if k.startswith("r_")]
    pts = p_left.copy()
    pts[:, right] = p_right[:, right]
    truth = [e for e in ev_left if e["side"] == "left"] + [e for e in ev_right if e["side"] == "right"]
    r = analyze_gait(Poses3D(keypoints=kp, points=pts, fps=60.0))
    assert event_accuracy(r.events, truth)["recall"] >= 0.95
    stance = r.summary.loc["stance_fraction"]
    assert stance["left"] == pytest.approx(0.6, abs=2 / 66) and stance["right"] == pytest.approx(0.5, abs=2 / 66)
    assert stance["symmetry_index"] == pytest.approx(100 * 0.1 / 0.55, abs=4.0)
    assert r.summary.loc["stride_time", "symmetry_index"] < 3.0  # the strides stay equally long


def test_gaps_in_the_feet(walk):
    """A 40-frame hole in heel and toe is bridged by the ankle; all of a foot missing drops only nearby events."""
    pts = walk.truth.points.copy()
    kp = walk.truth.keypoints
    pts[200:240, [kp.index("l_heel"), kp.index("l_toe")]] = np.nan
    events, *_ = detect_gait_events(Poses3D(keypoints=kp, points=pts, fps=60.0))
    assert event_accuracy(events, walk.events)["recall"] == 1.0
    pts[200:240, [kp.index("l_ankle")]] = np.nan
    events, _, _, unknown = detect_gait_events(Poses3D(keypoints=kp, points=pts, fps=60.0))
    assert unknown["left"][200:240].all()
    acc = event_accuracy(events, walk.events)
    assert acc["precision"] == 1.0
    lost = [e for e in walk.events if not (e["side"] == "left" and 199 <= e["frame"] <= 241)]
    assert acc["n_matched"] >= len(lost)


def test_y_up_world(walk):
    """The same walk in a Y-up world (OpenSim's axes) gives the same events with up='y'."""
    p = walk.truth.points
    yup = np.stack([p[..., 1], p[..., 2], p[..., 0]], -1)  # TRC (X, Y, Z) = world (Y, Z, X)
    events, *_ = detect_gait_events(Poses3D(keypoints=walk.truth.keypoints, points=yup, fps=60.0), GaitConfig(up="y"))
    ref, *_ = detect_gait_events(walk.truth)
    pd.testing.assert_frame_equal(events, ref)


def test_foot_keypoints_and_errors(walk):
    feet = foot_keypoints(walk.truth.keypoints)
    assert feet["left"] == ("l_heel", "l_toe", "l_ankle")
    assert foot_keypoints(["LHeel", "LBigToe", "RHeel", "RBigToe"])["right"] == ("RHeel", "RBigToe")
    with pytest.raises(MocapError, match="no left foot keypoint"):
        foot_keypoints(["nose", "tail"])
    with pytest.raises(MocapError, match="not in the poses"):
        foot_keypoints(walk.truth.keypoints, GaitConfig(left=("l_foot",), right=("r_heel",)))
    with pytest.raises(MocapError, match="up axis"):
        detect_gait_events(walk.truth, GaitConfig(up="w"))


def test_save_gait_tables_and_plot(walk, tmp_path):
    result = analyze_gait(walk.truth)
    paths = save_gait(result, tmp_path, stem="walk")
    names = sorted(p.name for p in paths)
    assert names == ["walk.png", "walk_events.csv", "walk_strides.csv", "walk_summary.csv"]
    ev = pd.read_csv(tmp_path / "walk_events.csv")
    assert list(ev.columns) == ["side", "event", "frame", "time"] and len(ev) == 36
    summ = pd.read_csv(tmp_path / "walk_summary.csv", index_col=0)
    assert summ.loc["stride_time", "left"] == pytest.approx(1.1, abs=1 / 60)
    assert (tmp_path / "walk.png").stat().st_size > 5000


def test_cli_gait(walk, tmp_path):
    from click.testing import CliRunner

    from mocap3d.cli import cli
    from mocap3d.io.pose3d import save_h5

    path = save_h5(walk.truth, tmp_path / "walk.h5")
    res = CliRunner().invoke(cli, ["gait", str(path), "--out", str(tmp_path / "gait")])
    assert res.exit_code == 0, res.output
    assert "18 foot strikes, 18 toe offs" in res.output
    assert (tmp_path / "gait" / "walk_summary.csv").exists() and (tmp_path / "gait" / "walk.png").exists()
    res = CliRunner().invoke(cli, ["gait", str(path), "--out", str(tmp_path), "--left", "l_foot"])
    assert res.exit_code == 1 and "not in the poses" in res.output


def test_gait_needs_a_frame_rate(walk):
    no_fps = Poses3D(keypoints=walk.truth.keypoints, points=walk.truth.points)
    with pytest.raises(MocapError, match="frame rate"):
        analyze_gait(no_fps)


def test_events_over_several_walks():
    """Five generated walks (180 true events), true 3D and 5 mm noise: >= 97% within 2 frames, none invented."""
    found = {"truth": [0, 0, 0], "noisy": [0, 0, 0]}
    for seed in range(5):
        s = sample.make_sample(n_frames=N_FRAMES, seed=seed)
        for name, poses in (("truth", s.truth), ("noisy", _noisy(s.truth, 5.0, 100 + seed))):
            acc = event_accuracy(detect_gait_events(poses)[0], s.events, tolerance=2)
            found[name] = [a + b for a, b in zip(found[name], (acc["n_matched"], acc["n_true"], acc["n_found"]),
                                                  strict=True)]
    for matched, n_true, n_found in found.values():
        assert n_true == 180
        assert matched / n_true >= 0.97 and matched / n_found >= 0.97
