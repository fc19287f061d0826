"""2D filters: known-answer tracks (jumps, swaps, gaps, low scores) and the sample rig's outliers.

Sections: likelihood cut-off, median + offset threshold with gap filling,
Viterbi, the Poses2D/Track2D pipeline, and the sample rig (10% high-confidence
outliers that the filters must catch, measured against the projected truth).
"""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import FilterError
from mocap3d.filters import (
    FilterPipeline,
    GapFill,
    LikelihoodFilter,
    MedianOffsetFilter,
    ViterbiFilter,
    apply_filters_2d,
    fill_gaps_2d,
    likelihood_cutoff,
    median_offset,
    step_from_dict,
    viterbi,
)
from mocap3d.poses import Poses2D, Track2D

NOISE = 0.5  # px


def _track(n_frames: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two smooth 2D trajectories (frames, 2, 2) moving up to ~2.5 px per frame, 0.5 px noise, scores 0.9."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)[:, None]
    truth = np.stack(
        [500 + 2.0 * t + 40 * np.sin(t / 25 + np.array([0, 2])), 300 + 60 * np.cos(t / 40 + np.array([1, 3]))], -1
    )
    return truth, truth + rng.normal(0, NOISE, truth.shape), np.full((n_frames, 2), 0.9)


# --------------------------------------------------------------------------- likelihood
def test_likelihood_cutoff():
    _, pts, sc = _track(20)
    sc[3, 0] = 0.2
    sc[4, 1] = 0.29999
    sc[5, 1] = 0.3
    out, out_sc = likelihood_cutoff(pts, sc, 0.3)
    dropped = np.isnan(out).all(-1)
    assert dropped.sum() == 2 and dropped[3, 0] and dropped[4, 1]
    assert out_sc[3, 0] == 0 and out_sc[5, 1] == 0.3
    np.testing.assert_array_equal(out[~dropped], pts[~dropped])
    with pytest.raises(FilterError, match="points \\(frames"):
        likelihood_cutoff(pts[..., :1], sc, 0.3)


# --------------------------------------------------------------------------- median + offset
def test_median_offset_drops_jumps_and_fills_them():
    truth, pts, sc = _track()
    jumps = [20, 21, 90, 150, 151, 152, 230]
    pts[jumps, 0] += [60.0, -45.0]
    sc[jumps, 0] = 0.99  # confidently wrong
    pts[100:104, 1] = np.nan  # a short gap, filled
    sc[100:104, 1] = 0
    sc[99, 1], sc[104, 1] = 0.5, 0.8
    pts[200:230, 1] = np.nan  # a long gap, kept
    sc[200:230, 1] = 0
    out, out_sc, dropped, filled = median_offset(pts, sc, window=7, offset_threshold=20, max_gap=10)
    assert dropped[jumps, 0].all() and dropped.sum() == len(jumps)  # 0.5 px noise is never 20 px off its median
    assert filled[jumps, 0].all() and filled[100:104, 1].all() and not filled[200:230, 1].any()
    err = np.linalg.norm(out - truth, axis=-1)
    assert err[jumps, 0].max() < 4 * NOISE  # a cubic spline through 0.5 px noise, bridging at most 3 frames
    assert err[100:104, 1].max() < 4 * NOISE
    assert np.isnan(out[200:230, 1]).all() and (out_sc[200:230, 1] == 0).all()
    assert (out_sc[100:104, 1] == 0.5).all()  # the weaker end of the gap
    untouched = ~dropped & ~filled & np.isfinite(pts).all(-1)
    np.testing.assert_array_equal(out[untouched], pts[untouched])


def test_median_offset_score_threshold_and_no_fill():
    _, pts, sc = _track(50)
    sc[10, 0] = 0.05
    out, out_sc, dropped, filled = median_offset(pts, sc, 5, 20.0, score_threshold=0.1, max_gap=0)
    assert dropped[10, 0] and dropped.sum() == 1 and not filled.any()
    assert np.isnan(out[10, 0]).all() and out_sc[10, 0] == 0


def test_fill_gaps_2d_linear_is_exact_on_a_straight_line():
    t = np.arange(40, dtype=float)
    pts = np.stack([3 * t + 1, -2 * t + 7], -1)[:, None]
    sc = np.ones((40, 1))
    pts[10:15] = np.nan
    sc[10:15] = 0
    out, out_sc, filled = fill_gaps_2d(pts, sc, 5, "linear")
    np.testing.assert_allclose(out[10:15, 0], np.stack([3 * t + 1, -2 * t + 7], -1)[10:15], atol=1e-12)
    assert filled[10:15].all() and (out_sc[10:15] == 1).all()


# --------------------------------------------------------------------------- Viterbi
def test_viterbi_keeps_the_true_path_through_jumps():
    truth, pts, sc = _track()
    jumps = [30, 31, 32, 120, 121, 200]  # runs of at most n_back - 1 frames
    pts[jumps, 1] += [150.0, -80.0]
    sc[jumps, 1] = 0.99
    out, out_sc, age = viterbi(pts, sc, n_back=4)
    err = np.linalg.norm(out - truth, axis=-1)
    speed = np.linalg.norm(np.diff(truth, axis=0), axis=-1).max()
    # Where the detection jumped, the path holds the last good detection: off by at most its age times the speed.
    assert (age[jumps, 1] >= 1).all()
    assert err[jumps, 1].max() < 3 * speed + 4 * NOISE
    clean = np.ones(err.shape, bool)
    clean[jumps, 1] = False
    assert (age[clean] == 0).all()  # everywhere else the current detection is the right one
    np.testing.assert_array_equal(out[clean], pts[clean])
    np.testing.assert_allclose(out_sc[jumps, 1], 0.9 * 0.5 ** age[jumps, 1])  # older = less confident


def test_viterbi_picks_the_true_path_among_swapped_keypoints():
    """Left and right swap in one view for 3 frames (the classic left/right confusion)."""
    truth, pts, sc = _track()
    pts[60:63] = pts[60:63, ::-1]
    sc[60:63] = 0.95
    out, _, age = viterbi(pts, sc, n_back=4)
    err = np.linalg.norm(out - truth, axis=-1)
    assert (age[60:63] == [[1, 1], [2, 2], [3, 3]]).all()
    assert err.max() < 3 * 2.6 + 4 * NOISE


def test_viterbi_lost_track_and_low_scores():
    truth, pts, sc = _track(100)
    pts[40:60, 0] = np.nan  # lost for 20 frames: held for n_back frames, then "not seen"
    sc[40:60, 0] = 0
    sc[20, 1] = 0.05  # below the score threshold: not a candidate
    pts[20, 1] += 100
    out, out_sc, age = viterbi(pts, sc, n_back=3, score_threshold=0.1)
    assert (age[40:43, 0] == [1, 2, 3]).all()
    assert (age[43:60, 0] == -1).all() and np.isnan(out[43:60, 0]).all() and (out_sc[43:60, 0] == 0).all()
    assert (age[60:, 0] == 0).all()  # found again
    assert age[20, 1] == 1 and np.linalg.norm(out[20, 1] - truth[20, 1]) < 5


def test_viterbi_batch_equals_one_trajectory_at_a_time():
    rng = np.random.default_rng(5)
    _, pts, sc = _track()
    many = np.concatenate([pts, pts * 3 + 10], axis=1)  # different speeds -> different estimated sigmas
    scs = np.concatenate([sc, sc], axis=1)
    many[rng.random(many.shape[:2]) < 0.05] += 200.0
    batch = viterbi(many, scs)
    for j in range(many.shape[1]):
        single = viterbi(many[:, j], scs[:, j])
        for b, s in zip(batch, single, strict=True):
            np.testing.assert_array_equal(b[:, j], s)


# --------------------------------------------------------------------------- pipeline on Poses2D / Track2D
def test_apply_filters_2d_on_poses2d_and_track2d():
    truth, pts, sc = _track()
    pts[50, 0] += 100.0
    poses = Poses2D(views=("a", "b"), keypoints=("p", "q"), points=np.stack([pts, pts + 1]), scores=np.stack([sc, sc]))
    original = poses.points.copy()
    steps = [LikelihoodFilter(0.3), MedianOffsetFilter(window=7, offset_threshold=20), GapFill(max_gap=3)]
    out = apply_filters_2d(poses, steps)
    assert isinstance(out, Poses2D) and out.points.shape == poses.points.shape and out.views == ("a", "b")
    np.testing.assert_array_equal(poses.points, original)
    assert np.linalg.norm(out.points[:, 50, 0] - truth[50, 0] - [[0, 0], [1, 1]], axis=-1).max() < 2.0
    track = Track2D(points=pts[:, None], scores=sc[:, None], keypoints=("p", "q"))
    tout = apply_filters_2d(track, steps)
    assert isinstance(tout, Track2D)
    np.testing.assert_array_equal(tout.points[:, 0], out.points[0])
    with pytest.raises(FilterError, match="not a 2D filter"):
        apply_filters_2d(poses, [step_from_dict({"type": "butterworth"}, "3d")])


def test_anipose_filter_section():
    pipe = FilterPipeline.from_dict(
        {"filter": {"type": "medfilt", "medfilt": 13, "offset_threshold": 25, "score_threshold": 0.05, "spline": True}}
    )
    assert pipe.filter2d == (MedianOffsetFilter(window=13, offset_threshold=25.0, score_threshold=0.05),)
    pipe = FilterPipeline.from_dict({"filter": {"type": "viterbi", "n_back": 5, "score_threshold": 0.2}})
    assert pipe.filter2d == (ViterbiFilter(n_back=5, score_threshold=0.2),)
    with pytest.raises(FilterError, match="'medfilt' or 'viterbi'"):
        FilterPipeline.from_dict({"filter": {"type": "autoencoder"}})


# --------------------------------------------------------------------------- the sample rig
@pytest.fixture(scope="module")
def sample():
    sample_mod = pytest.importorskip("mocap3d.sample")
    s = sample_mod.make_sample(n_frames=300, n_cameras=4, seed=0)
    return s, s.rig.project(s.truth.points)


@pytest.mark.parametrize(
    ("steps", "caught"),
    [
        ([MedianOffsetFilter(window=7, offset_threshold=20.0)], 0.99),  # measured 0.996
        ([ViterbiFilter()], 0.98),  # measured 0.990
    ],
)
def test_sample_outliers_are_caught(sample, steps, caught):
    s, truth2d = sample
    seen = np.isfinite(s.poses2d.points).all(-1)
    good = seen & ~s.outliers
    err_before = np.linalg.norm(s.poses2d.points - truth2d, axis=-1)
    assert np.mean(err_before[s.outliers] > 20) > 0.98  # the outliers are far off to start with
    out = apply_filters_2d(s.poses2d, steps)
    err = np.linalg.norm(out.points - truth2d, axis=-1)
    fixed = ~(err[s.outliers] > 20)  # dropped (NaN) or replaced by a point near the truth
    assert fixed.mean() > caught
    assert np.mean(err[good] > 20) < 0.002  # good detections are kept (or replaced by something as good)
    assert np.isnan(err[good]).mean() < 0.01


def test_sample_triangulation_improves_after_2d_filtering(sample):
    triangulation = pytest.importorskip("mocap3d.triangulation")
    s, _ = sample
    config = triangulation.TriangulationConfig(method="dlt")
    raw = triangulation.triangulate(s.poses2d, s.rig, config)
    filtered = triangulation.triangulate(apply_filters_2d(s.poses2d, [MedianOffsetFilter()]), s.rig, config)
    e_raw = np.linalg.norm(raw.points - s.truth.points, axis=-1)
    e_f = np.linalg.norm(filtered.points - s.truth.points, axis=-1)
    # Plain DLT takes every confident outlier; after the 2D filter its 99th percentile falls from metres to cm.
    assert np.nanpercentile(e_f, 99) < 0.1 * np.nanpercentile(e_raw, 99)
    assert np.nanmedian(e_f) < np.nanmedian(e_raw)
    assert np.isnan(e_f).mean() < 0.02
