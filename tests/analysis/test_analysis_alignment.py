"""Alignment to a user-named frame (anipose axes / reference_point) and board placements."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mocap3d.analysis.alignment import AlignmentConfig, align_poses, apply_transform, axes_transform, board_transform
from mocap3d.errors import MocapError
from mocap3d.poses import Poses3D

KPS = ("o", "px", "pz", "a", "b")


def _scene(n_frames=30, seed=0, wobble_mm=0.0):
    """Points in a known frame: o at the origin, px on +x, pz in the x-z plane with z > 0; plus a random
    rigid motion of the whole scene (R, t) that the alignment must undo."""
    rng = np.random.default_rng(seed)
    base = np.array([[0, 0, 0], [300, 0, 0], [80, 0, 200], [10, 20, 30], [-50, 70, 120]], float)
    # a body that moves a little (the alignment uses medians; exact answers need wobble_mm=0)
    local = base + rng.normal(0, wobble_mm, (n_frames, 5, 3))
    r = Rotation.random(random_state=seed).as_matrix()
    t = rng.normal(0, 1000, 3)
    world = local @ r.T + t
    return Poses3D(keypoints=KPS, points=world, fps=30.0), local


def test_named_frame_recovers_the_original_coordinates():
    poses, local = _scene()
    aligned = align_poses(poses, [["x", "o", "px"], ["z", "o", "pz"]], reference_point="o")
    np.testing.assert_allclose(aligned.points, local, atol=1e-9)
    m = np.asarray(aligned.metadata["alignment_M"])
    c = np.asarray(aligned.metadata["alignment_center"])
    np.testing.assert_allclose((poses.points - c) @ m.T, aligned.points, atol=1e-9)
    assert aligned.metadata["alignment"]["reference_point"] == "o"


def test_median_makes_the_frame_robust_to_bad_frames():
    poses, local = _scene(n_frames=41, wobble_mm=0.5)
    poses.points[:5, 1] += 5000.0  # five wild px positions
    poses.points[7, 0] = np.nan
    aligned = align_poses(poses, [["x", "o", "px"], ["z", "o", "pz"]], "o")
    # the frame is off by at most a fraction of the wobble: points 300 mm away move < 2 mm
    np.testing.assert_allclose(aligned.points[10:], local[10:], atol=2.0)


@pytest.mark.parametrize("first,second", list(itertools.permutations("xyz", 2)))
def test_every_axis_pair_gives_a_right_handed_frame(first, second):
    poses, _ = _scene()
    m, _ = axes_transform(poses, AlignmentConfig(axes=((first, "o", "px"), (second, "o", "pz"))))
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(m) == pytest.approx(1.0)
    # the first axis is exact: o->px maps onto +first
    d = np.median(poses.points[:, 1] - poses.points[:, 0], axis=0)
    np.testing.assert_allclose(m @ (d / np.linalg.norm(d)), np.eye(3)["xyz".index(first)], atol=1e-3)


def test_reference_point_as_coordinates_and_none():
    poses, _ = _scene()
    a = align_poses(poses, [["x", "o", "px"], ["z", "o", "pz"]], reference_point=[1.0, 2.0, 3.0])
    b = align_poses(poses, [["x", "o", "px"], ["z", "o", "pz"]], reference_point=None)
    m = np.asarray(b.metadata["alignment_M"])
    np.testing.assert_allclose(a.points, b.points - m @ np.array([1.0, 2.0, 3.0]), atol=1e-9)


def test_anipose_config_and_csv_columns(tmp_path):
    pose3d = pytest.importorskip("mocap3d.io.pose3d")
    poses, local = _scene()
    cfg = AlignmentConfig.from_anipose({"axes": [["x", "o", "px"], ["z", "o", "pz"]], "reference_point": "o"})
    aligned = align_poses(poses, cfg)
    path = pose3d.save_anipose_csv(aligned, tmp_path / "aligned.csv")
    import pandas as pd

    df = pd.read_csv(path)
    m, c = axes_transform(poses, cfg)
    np.testing.assert_allclose(df[[f"M_{i}{j}" for i in range(3) for j in range(3)]].to_numpy()[0], m.ravel())
    # anipose's center_i: the origin in the aligned frame (anipose maps back with (q + center) @ inv(M.T))
    np.testing.assert_allclose(df[["center_0", "center_1", "center_2"]].to_numpy()[0], m @ c)
    np.testing.assert_allclose(df[["o_x", "o_y", "o_z"]].to_numpy(), local[:, 0], atol=1e-6)


def test_alignments_compose():
    poses, _ = _scene()
    once = align_poses(poses, [["x", "o", "px"], ["z", "o", "pz"]], "a")
    twice = align_poses(once, [["y", "a", "b"], ["z", "o", "pz"]], "b")
    m = np.asarray(twice.metadata["alignment_M"])
    c = np.asarray(twice.metadata["alignment_center"])
    np.testing.assert_allclose((poses.points - c) @ m.T, twice.points, atol=1e-8)


def test_board_placement_frame():
    rows, cols, square = 4, 6, 40.0
    rr, cc = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    board = np.stack([cc * square, rr * square, np.zeros_like(rr, dtype=float)], -1)  # x along rows, y down cols
    r = Rotation.from_euler("xyz", [20, -35, 100], degrees=True).as_matrix()
    t = np.array([500.0, -200.0, 900.0])
    corners = board @ r.T + t
    corners[0, 0] = np.nan  # the origin corner itself hidden
    m, center = board_transform(corners)
    np.testing.assert_allclose(m, r.T, atol=1e-9)
    np.testing.assert_allclose(center, t, atol=1e-9)
    poses = Poses3D(keypoints=("p",), points=(np.array([[[10.0, 20.0, 30.0]]]) @ r.T + t))
    back = apply_transform(poses, m, center)
    np.testing.assert_allclose(back.points[0, 0], [10.0, 20.0, 30.0], atol=1e-9)


def test_errors():
    poses, _ = _scene()
    with pytest.raises(MocapError, match="not in the poses"):
        align_poses(poses, [["x", "o", "nose"], ["z", "o", "pz"]], "o")
    with pytest.raises(MocapError, match="must differ"):
        align_poses(poses, [["x", "o", "px"], ["x", "o", "pz"]], "o")
    with pytest.raises(MocapError, match="parallel"):
        align_poses(poses, [["x", "o", "px"], ["z", "o", "px"]], "o")
    with pytest.raises(MocapError, match="one of x, y, z"):
        align_poses(poses, [["w", "o", "px"], ["z", "o", "pz"]], "o")
    with pytest.raises(MocapError, match="two"):
        AlignmentConfig.from_anipose({"axes": [["x", "o", "px"]]})
    with pytest.raises(MocapError, match="proper rotation"):
        apply_transform(poses, np.diag([1.0, 1.0, -1.0]), np.zeros(3))
    with pytest.raises(MocapError, match="grid"):
        board_transform(np.zeros((5, 3)))
