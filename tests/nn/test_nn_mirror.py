"""Mirror views: crop + flip of a frame and the exact coordinate mapping both ways; label checking."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mocap3d.camera import CameraRig
from mocap3d.mirror import MirrorError, MirrorLayout, MirrorView, load_layout, view_camera
from mocap3d.nn.dataset import TrainingSet
from mocap3d.nn.evaluate import check_labels, infer_symmetric_pairs
from mocap3d.poses import Track2D
from mocap3d.triangulation import triangulate_dlt

LAYOUT = MirrorLayout((
    MirrorView("direct", 0, 0, 120, 90),
    MirrorView("mirror", 120, 10, 60, 70, flip="horizontal"),
    MirrorView("floor", 0, 90, 180, 30, flip="both"),
))


def _frame():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (120, 180, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", ["direct", "mirror", "floor"])
def test_each_pixel_lands_where_the_mapping_says(name):
    frame = _frame()
    view = LAYOUT[name]
    img = LAYOUT.split(frame)[name]
    assert img.shape == (view.height, view.width, 3)
    ys, xs = np.mgrid[view.y0:view.y0 + view.height, view.x0:view.x0 + view.width]
    full = np.stack([xs.ravel(), ys.ravel()], -1).astype(float)
    vx, vy = view.to_view(full).round().astype(int).T
    np.testing.assert_array_equal(img[vy, vx], frame[full[:, 1].astype(int), full[:, 0].astype(int)])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-50, 300), st.floats(-50, 300)), min_size=1, max_size=20),
       st.sampled_from(["none", "horizontal", "vertical", "both"]))
def test_mapping_round_trips(points, flip):
    view = MirrorView("v", 13, 7, 41, 29, flip)
    p = np.array(points)
    np.testing.assert_allclose(view.to_frame(view.to_view(p)), p, atol=1e-9)
    np.testing.assert_allclose(view.to_view(view.to_frame(p)), p, atol=1e-9)


def test_tracks_split_into_views_and_back(tmp_path):
    pts = np.array([[[[10.0, 20.0], [150.0, 40.0]]], [[[130.5, 30.25], [60.0, 100.0]]]])  # (2 frames, 1, 2 kp, 2)
    track = Track2D(pts, np.ones((2, 1, 2)), ("nose", "tail"))
    per_view = LAYOUT.split_track(track)
    assert np.isnan(per_view["mirror"].points[0, 0, 0]).all()  # (10, 20) is not in the mirror's box
    np.testing.assert_allclose(per_view["mirror"].points[0, 0, 1], [60 - 1 - 30, 30])
    back = LAYOUT.track_to_frame(per_view)
    for name in LAYOUT.names:
        seen = np.isfinite(back[name].points).all(-1)
        np.testing.assert_allclose(back[name].points[seen], pts[seen])
    path = tmp_path / "layout.toml"
    path.write_text(LAYOUT.to_toml())
    assert load_layout(path) == LAYOUT


def test_layout_errors(tmp_path):
    with pytest.raises(MirrorError, match="flip must be"):
        MirrorView("m", 0, 0, 10, 10, flip="sideways")
    with pytest.raises(MirrorError, match="outside"):
        MirrorView("m", 170, 0, 20, 10).crop(_frame())
    with pytest.raises(MirrorError, match="distinct names"):
        MirrorLayout((MirrorView("a", 0, 0, 5, 5), MirrorView("a", 5, 0, 5, 5)))
    bad = tmp_path / "bad.toml"
    bad.write_text('[[view]]\nname = "a"\nbox = [0, 0]\n')
    with pytest.raises(MirrorError, match="box"):
        load_layout(bad)


# ----------------------------------------------------------------------------- label checking


def test_symmetric_pairs_from_names():
    assert infer_symmetric_pairs(["snout", "leftear", "rightear", "tailbase"]) == [("leftear", "rightear")]
    assert infer_symmetric_pairs(["l_knee", "r_knee", "l_hip", "neck"]) == [("l_knee", "r_knee")]


def test_check_labels_finds_a_left_right_swap_and_a_far_label():
    rng = np.random.default_rng(0)
    truth = rng.uniform(50, 400, (30, 3, 2))
    truth[:, 2] = truth[:, 1] + [25.0, 0.0]  # right ear 25 px from the left ear
    labels = truth + rng.normal(0, 1.0, truth.shape)
    labels[7, [1, 2]] = labels[7, [2, 1]]  # labeller swapped left and right in image 7
    labels[12, 0] += [40.0, 0.0]  # a slip on image 12
    data = TrainingSet(tuple(f"img{i:03d}.png" for i in range(30)), [np.zeros((1, 1, 3), np.uint8)] * 30, labels,
                       ("snout", "leftear", "rightear"))
    issues = check_labels(data, truth, np.ones((30, 3)), [("leftear", "rightear")], pcutoff=0.5)
    assert [(i.image, i.kind) for i in issues] == [("img012.png", "far"), ("img007.png", "swapped")]
    assert issues[1].error > 20 and issues[1].error_if_fixed < 3


# ----------------------------------------------------------------------------- a mirror as a second camera


def _mirror_box():
    """A camera at the origin looking along +Z; a mirror (plane x = 0.5) to its right fills the frame's right part."""
    K = np.array([[800.0, 0, 479.5], [0, 800.0, 239.5], [0, 0, 1]])
    rig = CameraRig(["cam"], [[960, 480]], K[None], [[-0.1, 0.02, 0.001, -0.002, 0.0]], [[0.0, 0.0, 0.0]],
                    [[0.0, 0.0, 0.0]])
    layout = MirrorLayout((MirrorView("direct", 0, 0, 600, 480), MirrorView("mirror", 600, 0, 360, 480, "horizontal")))
    rng = np.random.default_rng(5)
    points = np.c_[rng.uniform(-0.3, 0.3, 200), rng.uniform(-0.4, 0.4, 200), rng.uniform(3.0, 4.0, 200)]
    return rig, layout, (np.array([1.0, 0.0, 0.0]), 0.5), points


def test_a_mirror_view_is_the_reflected_camera():
    rig, layout, mirror, X = _mirror_box()
    n, d = mirror
    reflected = X - 2 * ((X @ n) - d)[:, None] * n  # what the camera sees in the mirror
    in_frame = rig.project(reflected)[0]  # lens distortion included
    view = layout["mirror"]
    assert view.inside(in_frame).all()
    virtual = view_camera(rig, "cam", view, mirror)
    np.testing.assert_allclose(virtual.project(X)[0], view.to_view(in_frame), atol=1e-8)
    direct = view_camera(rig, "cam", layout["direct"])
    np.testing.assert_allclose(direct.project(X)[0], layout["direct"].to_view(rig.project(X)[0]), atol=1e-8)
    with pytest.raises(MirrorError, match="exactly one flip"):
        view_camera(rig, "cam", MirrorView("m", 600, 0, 360, 480), mirror)


def test_direct_and_mirror_views_triangulate_as_two_cameras():
    rig, layout, mirror, X = _mirror_box()
    n, d = mirror
    frame_pts = np.stack([rig.project(X)[0], rig.project(X - 2 * ((X @ n) - d)[:, None] * n)[0]])
    views = [layout["direct"], layout["mirror"]]
    pair = [view_camera(rig, "cam", v, mirror if v.name == "mirror" else None) for v in views]
    two = CameraRig([c.names[0] for c in pair], np.concatenate([c.sizes for c in pair]),
                    np.concatenate([c.K for c in pair]), np.concatenate([c.dist for c in pair]),
                    np.concatenate([c.rvec for c in pair]), np.concatenate([c.tvec for c in pair]))
    obs = np.stack([v.to_view(p) for v, p in zip(views, frame_pts, strict=True)])  # (2 views, points, 2)
    norm = two.undistort_points(obs, output="normalized")
    found = triangulate_dlt(two.extrinsics(), norm)
    np.testing.assert_allclose(found, X, atol=1e-6)
