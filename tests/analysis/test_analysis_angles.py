"""Joint angles (anipose's [angles] kinds) against configurations whose angles are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.transform import Rotation

from mocap3d.analysis.angles import (
    axis_angle,
    chain_angles,
    compute_angles,
    cross_axis_angle,
    flexion,
    parse_angles,
    save_angles_csv,
)
from mocap3d.errors import MocapError
from mocap3d.poses import Poses3D


def _planar_leg(knee_deg: np.ndarray, thigh=450.0, shank=440.0):
    """hip above knee; the shank bent by `knee_deg` from straight, in the x-z plane (F, 3) each."""
    f = len(knee_deg)
    hip = np.tile([0.0, 0.0, 900.0], (f, 1))
    knee = hip + [0.0, 0.0, -thigh]
    bend = np.radians(180.0 - knee_deg)  # interior angle at the knee
    ankle = knee + shank * np.stack([np.sin(np.pi - bend) * -1, np.zeros(f), -np.cos(np.pi - bend)], -1)
    toe = ankle + [150.0, 0.0, 0.0]
    return hip, knee, ankle, toe


def test_flexion_known_angles():
    deg = np.array([0.0, 30.0, 90.0, 135.0, 179.9])
    hip, knee, ankle, _ = _planar_leg(deg)
    np.testing.assert_allclose(flexion(hip, knee, ankle), 180.0 - deg, atol=1e-9)
    a = np.array([[1.0, 0, 0]])
    assert flexion(a, np.zeros((1, 3)), np.array([[0, 2.0, 0]]))[0] == pytest.approx(90.0)
    assert flexion(a, np.zeros((1, 3)), -a)[0] == pytest.approx(180.0)


def test_axis_angle_known_direction():
    theta = np.radians([-150.0, -30.0, 0.0, 45.0, 120.0])
    f = len(theta)
    b = np.zeros((f, 3))
    a = np.tile([0.0, 0.0, 100.0], (f, 1))  # axis b->a along world z: x, y are the world's
    c = b - 50.0 * np.stack([np.cos(theta), np.sin(theta), np.zeros(f)], -1)  # c->b points at theta
    np.testing.assert_allclose(axis_angle(a, b, c), np.degrees(theta), atol=1e-9)


def test_cross_axis_known_direction():
    a, b, c = np.array([[0.0, 0, 0]]), np.array([[1.0, 0, 0]]), np.array([[1.0, 1.0, 0]])
    assert cross_axis_angle(a, b, c)[0] == pytest.approx(45.0)
    assert cross_axis_angle(a, b, np.array([[1.0, -1.0, 0]]))[0] == pytest.approx(45.0)  # normal flips too


def test_chain_first_joint_relative_to_world():
    """A first segment along world +z tilted by theta about y gives hip_flex = theta, no rotation/abduction."""
    theta = np.radians([0.0, 10.0, 40.0])
    f = len(theta)
    p0 = np.zeros((f, 3))
    z = np.stack([np.sin(theta), np.zeros(f), np.cos(theta)], -1)
    x = np.stack([np.cos(theta), np.zeros(f), -np.sin(theta)], -1)
    p1 = p0 + 300 * z
    p2 = p1 + 200 * x + 100 * z  # the next segment leans towards +x of the tilted frame
    p3 = p2 + 100 * z
    out = chain_angles([p0, p1, p2, p3], ["hip", "knee", "ankle", "toe"])
    np.testing.assert_allclose(out["hip_flex"], np.degrees(theta), atol=1e-9)
    np.testing.assert_allclose(out["hip_rot"], 0.0, atol=1e-9)
    np.testing.assert_allclose(out["hip_abduct"], 0.0, atol=1e-9)
    assert set(out) == {"hip_flex", "hip_rot", "hip_abduct", "knee_flex", "knee_rot", "ankle_flex"}


def test_chain_flexion_matches_and_is_invariant_to_a_global_motion():
    rng = np.random.default_rng(0)
    f = 25
    pts = [rng.normal(0, 1, (f, 3)) * 100 + [0, 0, 100 * i] for i in range(4)]
    names = ["hip", "knee", "ankle/", "toe"]
    out = chain_angles(pts, names)
    # joint flexions after the first: the signed flexion angle at that part (the `/` flips the sign)
    np.testing.assert_allclose(np.abs(out["knee_flex"]), flexion(pts[0], pts[1], pts[2]), atol=1e-6)
    np.testing.assert_allclose(out["ankle_flex"], -flexion(pts[1], pts[2], pts[3]), atol=1e-6)
    r = Rotation.random(random_state=3).as_matrix()
    moved = [p @ r.T + [10.0, -20.0, 30.0] for p in pts]
    again = chain_angles(moved, names)
    for key in ("knee_flex", "knee_rot", "ankle_flex"):  # relative angles do not see the global motion
        np.testing.assert_allclose(again[key], out[key], atol=1e-6)


def test_compute_angles_from_config_with_missing_points(tmp_path):
    deg = np.linspace(0, 120, 10)
    hip, knee, ankle, toe = _planar_leg(deg)
    pts = np.stack([hip, knee, ankle, toe], axis=1)
    pts[4, 2] = np.nan
    poses = Poses3D(keypoints=("hip", "knee", "ankle", "toe"), points=pts, metadata={"frame_start": 100})
    table = {"knee": ["hip", "knee", "ankle"], "knee_axis": ["axis", "hip", "knee", "ankle"],
             "leg": ["chain", "hip", "knee", "ankle", "toe"]}
    df = compute_angles(poses, table)
    assert list(df.columns) == ["knee", "knee_axis", "hip_flex", "hip_rot", "hip_abduct", "knee_flex", "knee_rot",
                                "ankle_flex", "fnum"]
    expected = 180.0 - deg
    expected[4] = np.nan
    np.testing.assert_allclose(df["knee"], expected, atol=1e-9)
    assert np.isnan(df.loc[4, "knee_flex"]) and not np.isnan(df.loc[3, "knee_flex"])
    assert df["fnum"].tolist() == list(range(100, 110))
    path = save_angles_csv(df, tmp_path / "angles.csv")
    back = pd.read_csv(path)
    np.testing.assert_allclose(back["knee"], df["knee"])


def test_angles_on_the_sample_walker():
    sample = pytest.importorskip("mocap3d.sample")
    s = sample.make_sample(n_frames=132, seed=0)
    df = compute_angles(s.truth, {"l_knee": ["l_hip", "l_knee", "l_ankle"]})
    # the walker's leg is a two-link chain with fixed lengths: the knee angle follows the law of cosines
    kp = s.truth.keypoints
    d = np.linalg.norm(s.truth.points[:, kp.index("l_hip")] - s.truth.points[:, kp.index("l_ankle")], axis=-1)
    thigh, shank = 450.0, 440.0
    expected = np.degrees(np.arccos(np.clip((thigh**2 + shank**2 - d**2) / (2 * thigh * shank), -1, 1)))
    np.testing.assert_allclose(df["l_knee"], expected, atol=1e-4)
    assert df["l_knee"].max() <= 180.0


def test_parse_errors():
    with pytest.raises(MocapError, match="three body parts"):
        parse_angles({"bad": ["axis", "a", "b"]})
    with pytest.raises(MocapError, match="expected three body parts"):
        parse_angles({"bad": ["a", "b"]})
    with pytest.raises(MocapError, match="at least two"):
        parse_angles({"bad": ["chain", "a"]})
    poses = Poses3D(keypoints=("a", "b", "c"), points=np.zeros((2, 3, 3)))
    with pytest.raises(MocapError, match="not in the poses"):
        compute_angles(poses, {"x": ["a", "b", "nose"]})


def test_cli_angles(tmp_path):
    from click.testing import CliRunner

    from mocap3d.cli import cli
    from mocap3d.io.pose3d import save_h5

    deg = np.linspace(10, 120, 6)
    hip, knee, ankle, toe = _planar_leg(deg)
    poses = Poses3D(keypoints=("hip", "knee", "ankle", "toe"), points=np.stack([hip, knee, ankle, toe], 1))
    path = save_h5(poses, tmp_path / "leg.h5")
    cfg = tmp_path / "config.toml"
    cfg.write_text('[angles]\nleg = ["chain", "hip", "knee", "ankle", "toe"]\n')
    out = tmp_path / "angles.csv"
    res = CliRunner().invoke(cli, ["angles", str(path), "--config", str(cfg), "--angle", "knee=hip,knee,ankle",
                                   "-o", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    np.testing.assert_allclose(df["knee"], 180.0 - deg, atol=1e-6)
    assert "hip_flex" in df.columns
    res = CliRunner().invoke(cli, ["angles", str(path), "-o", str(out)])
    assert res.exit_code == 1 and "no angles declared" in res.output
    res = CliRunner().invoke(cli, ["angles", str(path), "--angle", "knee", "-o", str(out)])
    assert res.exit_code == 1 and "NAME=PART" in res.output
