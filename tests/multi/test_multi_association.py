"""Cross-view association on scenes small enough to check by hand, and identity through time."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.camera import CameraRig, rotation_to_rodrigues
from mocap3d.multi import AssociationConfig, Associator, Detections, TrackingConfig, track_individuals


def _look_at(center, target=(0.0, 0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    center = np.asarray(center, float)
    z = np.asarray(target, float) - center
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    R = np.stack([x, np.cross(z, x), z])
    return rotation_to_rodrigues(R), -R @ center


def _rig(centers) -> CameraRig:
    poses = [_look_at(c) for c in centers]
    n = len(centers)
    K = [[[1000.0, 0, 640], [0, 1000.0, 512], [0, 0, 1]]] * n
    return CameraRig(names=[f"cam{i}" for i in range(n)], sizes=[(1280, 1024)] * n, K=K, dist=np.zeros((n, 5)),
                     rvec=[p[0] for p in poses], tvec=[p[1] for p in poses])  # fmt: skip


# Cameras 0 and 1 and both points lie in the plane z = 1: in that pair the two points share one epipolar
# line, so no pairwise test can tell them apart; camera 2, above the plane, can.
CENTERS = [(-3.0, -5.0, 1.0), (3.0, -5.0, 1.0), (0.0, 5.0, 3.0)]
A, B = np.array([-0.3, 0.0, 1.0]), np.array([0.3, 0.0, 1.0])


def _frame(rig, points_per_view):
    """Per view, a list of 3D points seen (in the file's order) -> normalized detections with one keypoint."""
    n = max(len(p) for p in points_per_view)
    px = np.full((rig.n_cameras, n, 1, 2), np.nan)
    sc = np.zeros((rig.n_cameras, n, 1))
    for v, pts in enumerate(points_per_view):
        for i, p in enumerate(pts):
            px[v, i, 0] = rig.project(p)[v]
            sc[v, i, 0] = 1.0
    assoc = Associator(rig, AssociationConfig(min_keypoints=1))
    x, w = assoc.normalize(px, sc)
    return assoc, x, w


def _as_sets(clusters):
    return sorted(tuple(int(i) for i in row) for row in clusters)


def test_epipolar_cost_is_zero_for_one_point_and_large_for_the_other():
    rig = _rig(CENTERS)
    assoc, x, w = _frame(rig, [[A, B], [A, B], [A, B]])
    flat_x = x.reshape(-1, 1, 2)
    view = np.repeat(np.arange(3), 2)
    cost = assoc.epipolar_costs(flat_x, w.reshape(-1, 1), view)
    # detections: (cam0 A, cam0 B, cam1 A, cam1 B, cam2 A, cam2 B)
    assert cost[0, 2] < 1e-6 and cost[0, 4] < 1e-6 and cost[2, 4] < 1e-6
    assert cost[0, 5] > 50 and cost[2, 5] > 50
    # the degenerate pair: cameras 0 and 1 see both points on one epipolar line
    assert cost[0, 3] < 1e-6
    assert np.isinf(cost[0, 1])  # never two detections of one camera


def test_two_points_three_cameras_with_swapped_order_and_a_missing_view():
    rig = _rig(CENTERS)
    # camera 1 lists B first; camera 2 does not see B at all
    assoc, x, w = _frame(rig, [[A, B], [B, A], [A]])
    res = assoc.frame(x, w)
    assert _as_sets(res.clusters) == [(0, 1, 0), (1, 0, -1)]
    a_row = [tuple(r) for r in res.clusters].index((0, 1, 0))
    np.testing.assert_allclose(res.points3d[a_row, 0], A, atol=1e-9)
    np.testing.assert_allclose(res.points3d[1 - a_row, 0], B, atol=1e-9)


def test_joint_solution_where_a_camera_pair_is_ambiguous():
    """Cameras 0-1 alone cannot separate A and B; the joint clustering over three cameras does."""
    rig = _rig(CENTERS)
    assoc, x, w = _frame(rig, [[A, B], [B, A], [B, A]])
    res = assoc.frame(x, w)
    assert _as_sets(res.clusters) == [(0, 1, 1), (1, 0, 0)]
    for row, X in zip(res.clusters, res.points3d, strict=True):
        truth = A if row[0] == 0 else B
        np.testing.assert_allclose(X[0], truth, atol=1e-9)


def test_a_detection_that_fits_no_one_is_left_out():
    rig = _rig(CENTERS)
    stray = np.array([2.0, 1.0, 0.2])
    assoc, x, w = _frame(rig, [[A, B], [B, A, stray], [A, B]])
    res = assoc.frame(x, w)
    assert _as_sets(res.clusters) == [(0, 1, 0), (1, 0, 1)]


def test_prediction_keeps_identity_in_the_ambiguous_pair():
    """With only cameras 0 and 1 seeing both, a prediction from the previous frame decides."""
    rig = _rig(CENTERS)
    assoc, x, w = _frame(rig, [[B, A], [A, B], []])
    predicted = np.stack([A, B])[:, None]  # (T=2, K=1, 3): individual 0 is A
    res = assoc.frame(x, w, predicted + 0.01)
    assert list(res.from_track) == [0, 1]
    assert [tuple(r) for r in res.clusters] == [(1, 0, -1), (0, 1, -1)]


@pytest.fixture(scope="module")
def herd():
    from mocap3d.synthetic.herd import make_herd

    return make_herd(n_individuals=3, n_frames=150, seed=3, swap_rate=0.05)


def _purity(herd, result):
    """Per track, the fraction of its detections that belong to its majority true individual, and that one."""
    out = []
    for t in range(len(result.names)):
        a = result.assignment[t]
        ids = np.take_along_axis(herd.identity, np.clip(a, 0, None)[..., None], axis=2)[..., 0]
        ids = ids[(a >= 0) & (ids >= 0)]
        counts = np.bincount(ids, minlength=len(herd.names))
        out.append((counts.max() / max(counts.sum(), 1), int(counts.argmax())))
    return out


def test_tracks_undo_per_camera_identity_swaps(herd):
    det = Detections(views=herd.rig.names, keypoints=herd.keypoints, points=herd.points, scores=herd.scores,
                     fps=herd.fps)  # fmt: skip
    # the files' own labels are wrong: within each camera the slot of an individual changes over time
    slot_changes = sum(int((np.diff(herd.identity[v], axis=0) != 0).any(-1).sum()) for v in range(4))
    assert slot_changes > 10
    result = track_individuals(det, herd.rig, tracking=TrackingConfig(n_individuals=3))
    assert len(result.names) == 3
    purity = _purity(herd, result)
    assert all(p == 1.0 for p, _ in purity), purity
    assert sorted(i for _, i in purity) == [0, 1, 2]
    for t, (_, i) in enumerate(purity):
        truth = herd.truth[herd.names[i]].points
        err = np.linalg.norm(result.points3d[t] - truth, axis=-1)
        assert np.nanmedian(err) < 15.0  # mm: the quick per-frame DLT, outliers included
        assert np.isfinite(result.points3d[t]).all(-1).any(-1).mean() > 0.95


def test_unknown_number_of_individuals_and_shuffled_labels():
    from mocap3d.synthetic.herd import make_herd

    herd = make_herd(n_individuals=2, n_frames=80, seed=5, shuffle=True)
    det = Detections(views=herd.rig.names, keypoints=herd.keypoints, points=herd.points, scores=herd.scores)
    result = track_individuals(det, herd.rig)
    assert len(result.names) == 2
    assert all(p == 1.0 for p, _ in _purity(herd, result))


def test_identity_survives_an_occlusion_in_every_camera_and_is_reported():
    from mocap3d.synthetic.herd import make_herd

    herd = make_herd(n_individuals=2, n_frames=120, seed=9, shuffle=True)
    points, scores = herd.points.copy(), herd.scores.copy()
    hidden = (herd.identity == 1) & (np.arange(120)[None, :, None] >= 40) & (np.arange(120)[None, :, None] < 70)
    points[hidden], scores[hidden] = np.nan, 0.0  # walker 1 unseen by every camera for 30 frames
    det = Detections(views=herd.rig.names, keypoints=herd.keypoints, points=points, scores=scores)
    result = track_individuals(det, herd.rig)
    assert len(result.names) == 2  # no new individual when it comes back
    purity = _purity(herd, result)
    # one camera's detection of one frame, right after the return, is flagged ambiguous and may be wrong
    assert all(p >= 0.99 for p, _ in purity) and sorted(i for _, i in purity) == [0, 1]
    back = [u for u in result.uncertain if u["reason"].startswith("found again")]
    assert back and back[0]["frame"] == 70 and back[0]["individual"] == result.names[[i for _, i in purity].index(1)]
