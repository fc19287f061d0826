"""3D filters on signals with a known answer, and the Pose2Sim reference.

Sections: known-answer signals (sine + noise, step, spikes, gaps, constant
velocity), NaN handling, the Poses3D pipeline and its metadata, configuration
errors, and Pose2Sim's filtered TRC (real data, skipped when absent).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mocap3d.errors import FilterError
from mocap3d.filters import (
    ButterworthFilter,
    ErrorFilter,
    FilterPipeline,
    GapFill,
    HampelFilter,
    KalmanFilter,
    MedianFilter,
    SavgolFilter,
    apply_filters_3d,
    butterworth,
    fill_gaps,
    hampel,
    kalman_smooth,
    load_filter_config,
    median_filter,
    savgol,
    step_from_dict,
)
from mocap3d.io.pose3d import load_trc
from mocap3d.poses import Poses3D

FPS = 60.0


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.nanmean((a - b) ** 2)))


@pytest.fixture
def noisy_sine():
    """A 0.5 Hz sine (amplitude 50 mm) in 3 coordinates of 2 keypoints, plus 5 mm white noise, 10 s at 60 fps.

    Slow enough (at most 2.6 mm per frame) for a 7-frame median to average noise rather than follow the trend.
    """
    rng = np.random.default_rng(1)
    t = np.arange(600) / FPS
    phase = np.arange(6).reshape(1, 2, 3)
    clean = 50.0 * np.sin(2 * np.pi * 0.5 * t[:, None, None] + phase)
    return clean, clean + rng.normal(0, 5.0, clean.shape)


# --------------------------------------------------------------------------- sine + noise
@pytest.mark.parametrize(
    ("name", "run", "factor"),
    [
        # White noise power below the cut-off is 6/30 of the total: the RMS error falls by about sqrt(30/6) ~ 2.2
        # from the noise alone; a 6 Hz cut-off passes the 0.5 Hz sine untouched. The median of 7 normal samples has
        # about pi/2/7 of the variance (rms / 2.1), less near the turning points.
        ("butterworth", lambda x: butterworth(x, FPS, cutoff=6, order=4), 2.0),
        ("savgol", lambda x: savgol(x, window=15, polyorder=3), 1.8),
        ("median", lambda x: median_filter(x, window=7), 1.5),
        ("kalman", lambda x: kalman_smooth(x, FPS, "acceleration", 3000.0, 5.0)[0], 2.0),
    ],
)
def test_sine_noise_error_reduced(noisy_sine, name, run, factor):
    clean, noisy = noisy_sine
    out = run(noisy)
    assert out.shape == noisy.shape
    before, after = _rms(noisy, clean), _rms(out, clean)
    assert after < before / factor, f"{name}: rms {before:.2f} -> {after:.2f} mm"


def test_butterworth_passes_low_and_stops_high_frequencies():
    t = np.arange(1200) / FPS
    low = np.sin(2 * np.pi * 1.0 * t)
    high = np.sin(2 * np.pi * 20.0 * t)
    out = butterworth((low + high)[:, None], FPS, cutoff=6, order=4)[:, 0]
    mid = slice(100, -100)
    # Forward-backward order-2 digital Butterworth: gain |H|^2 = 1 / (1 + w^4), w the bilinear-warped frequency
    # tan(pi f / fs) / tan(pi fc / fs): 0.99932 at 1 Hz, 0.00124 at 20 Hz.
    def gain(f: float) -> float:
        return 1 / (1 + (np.tan(np.pi * f / FPS) / np.tan(np.pi * 6 / FPS)) ** 4)

    assert np.max(np.abs(out[mid] - gain(1.0) * low[mid] - gain(20.0) * high[mid])) < 1e-4


# --------------------------------------------------------------------------- step
def _step(n: int = 120, at: int = 60) -> np.ndarray:
    x = np.zeros((n, 1, 3))
    x[at:] = 1.0
    return x


@pytest.mark.parametrize("window", [3, 5, 9])
def test_median_keeps_a_step_edge(window):
    x = _step()
    np.testing.assert_array_equal(median_filter(x, window), x)


def test_hampel_keeps_a_step_edge():
    x = _step()
    out, outliers = hampel(x, window=7)
    assert not outliers.any()
    np.testing.assert_array_equal(out, x)


def test_butterworth_rings_symmetrically_around_a_step():
    x = _step(240, 120)
    y = butterworth(x, FPS, cutoff=6, order=4)[:, 0, 0]
    # A zero-phase filter's step response is antisymmetric about the edge (between samples 119 and 120).
    k = np.arange(60)
    np.testing.assert_allclose(y[119 - k] + y[120 + k], 1.0, atol=1e-6)
    # It rings: overshoot above 1 and undershoot below 0, by a few percent for this filter, not more.
    assert 0.01 < y.max() - 1 < 0.15
    assert 0.01 < -y.min() < 0.15
    assert 0.4 < y[120] < 0.9


# --------------------------------------------------------------------------- spikes
def test_hampel_removes_single_spikes(noisy_sine):
    clean, noisy = noisy_sine
    spiky = noisy.copy()
    rng = np.random.default_rng(7)
    frames = np.sort(rng.choice(np.arange(5, 595), 20, replace=False))
    points = rng.integers(0, 2, 20)
    coords = rng.integers(0, 3, 20)
    spiky[frames, points, coords] += rng.choice([-1, 1], 20) * rng.uniform(80, 200, 20)
    out, outliers = hampel(spiky, window=15, n_sigmas=3)
    truth = np.zeros(outliers.shape, bool)
    truth[frames, points] = True
    assert outliers[truth].all()  # every spike found
    # Noise alone exceeds 3 sigma in one of 3 coordinates 0.8% of the time; a 15-sample MAD is a noisy scale
    # estimate, which about doubles that. Measured: 1.4%.
    assert (outliers & ~truth).sum() < 0.03 * truth.size
    assert np.abs(out - clean)[truth].max() < 30  # replaced by the local median, near the sine
    nan_out, _ = hampel(spiky, window=7, replace="nan")
    assert np.isnan(nan_out[truth]).all()


def test_hampel_ignores_missing_samples():
    x = _step()
    x[10:14] = np.nan
    x[80, 0, 1] = 50.0
    out, outliers = hampel(x, window=7)
    assert np.isnan(out[10:14]).all()
    assert outliers[80, 0] and outliers.sum() == 1
    assert out[80, 0, 1] == 1.0


# --------------------------------------------------------------------------- gaps
def test_gap_fill_within_tolerance_and_long_gaps_stay_missing():
    t = np.arange(300) / FPS
    f = 1.0
    clean = np.sin(2 * np.pi * f * t)[:, None]
    x = clean.copy()
    x[50:58] = np.nan  # 8 frames: filled
    x[150:165] = np.nan  # 15 frames: longer than max_gap
    x[:3] = np.nan  # leading: nothing to interpolate from
    for method in ("linear", "cubic", "pchip"):
        out, filled = fill_gaps(x, max_gap=10, method=method)
        assert filled[50:58].all() and filled.sum() == 8
        assert np.isnan(out[150:165]).all() and np.isnan(out[:3]).all()
        np.testing.assert_array_equal(out[~np.isnan(x)], x[~np.isnan(x)])
        # Linear interpolation error <= h^2/8 max|f''| over the 9-frame span between known samples.
        h = 9 / FPS
        bound = h**2 / 8 * (2 * np.pi * f) ** 2
        err = np.abs(out[50:58] - clean[50:58]).max()
        assert err <= bound * (1.0 if method == "linear" else 0.2), (method, err, bound)


def test_pchip_fill_does_not_overshoot_a_step():
    x = _step(60, 30)[:, 0, :1].copy()
    x[25:35] = np.nan
    out, _ = fill_gaps(x, max_gap=10, method="pchip")
    assert (out >= 0).all() and (out <= 1).all()
    assert np.all(np.diff(out[:, 0]) >= 0)


@pytest.mark.parametrize("run", [lambda x: butterworth(x, FPS, 6, 4, max_gap=10), lambda x: savgol(x, 15, 3, 10)])
def test_smoothing_fills_short_gaps_and_keeps_long_gaps(noisy_sine, run):
    clean, noisy = noisy_sine
    x = noisy.copy()
    x[100:104, 0] = np.nan  # short: filled
    x[300:360, 1] = np.nan  # long: kept, and does not spread
    out = run(x)
    assert np.isfinite(out[100:104, 0]).all()
    assert np.isnan(out[300:360, 1]).all()
    assert np.isfinite(out[:300, 1]).all() and np.isfinite(out[360:, 1]).all()
    # Each side of the long gap is filtered on its own: no ringing from a NaN or a jump.
    assert _rms(out[280:300, 1], clean[280:300, 1]) < 5.0  # below the 5 mm noise
    assert _rms(out[100:104, 0], clean[100:104, 0]) < 2 * 5.0  # a filled gap: within twice the noise


# --------------------------------------------------------------------------- Kalman / RTS
@pytest.mark.parametrize("model", ["velocity", "acceleration"])
def test_kalman_recovers_constant_velocity(model):
    rng = np.random.default_rng(3)
    t = np.arange(900) / FPS
    velocity = np.array([500.0, -250.0, 40.0])  # mm/s
    clean = (np.array([100.0, 0.0, 900.0]) + t[:, None] * velocity)[:, None, :]
    x = clean + rng.normal(0, 2.0, clean.shape)
    x[200:206] = np.nan  # short gap: predicted through
    x[500:540] = np.nan  # long gap: NaN again
    pos, vel = kalman_smooth(x, FPS, model, process_noise=10.0, measurement_noise=2.0, max_gap=10)
    assert np.isfinite(pos[200:206]).all() and np.isnan(pos[500:540]).all() and np.isnan(vel[500:540]).all()
    inner = np.r_[30:470, 570:870]
    assert np.abs(vel[inner, 0] - velocity).max() < 0.05 * 500  # within 25 mm/s everywhere inside
    assert np.abs(np.nanmedian(vel, axis=0)[0] - velocity).max() < 2.0
    assert _rms(pos, clean) < 2.0 / 2  # half the measurement noise at least
    assert np.abs(pos[200:206] - clean[200:206]).max() < 3.0


def test_kalman_handles_a_trajectory_that_starts_late():
    t = np.arange(200) / FPS
    x = (300.0 + 1000.0 * t)[:, None]
    x[:50] = np.nan
    pos, vel = kalman_smooth(x, FPS, "velocity", 1.0, 0.1)
    assert np.isnan(pos[:50]).all()
    np.testing.assert_allclose(vel[50:], 1000.0, rtol=1e-3)
    np.testing.assert_allclose(pos[50:], x[50:], atol=1e-3)


# --------------------------------------------------------------------------- Poses3D pipeline
def _poses(points: np.ndarray, fps: float | None = FPS) -> Poses3D:
    f, k, _ = points.shape
    valid = np.isfinite(points).all(-1)
    return Poses3D(
        keypoints=tuple(f"kp{i}" for i in range(k)),
        points=points,
        error=np.where(valid, 0.5, np.nan),
        ncams=np.where(valid, 3, 0),
        cameras_used=np.repeat(valid[..., None], 3, axis=-1),
        score=np.where(valid, 0.9, 0.0),
        views=("a", "b", "c"),
        fps=fps,
        metadata={"method": "dlt", "filters": [{"name": "viterbi", "params": {}}]},
    )


def test_apply_filters_3d_records_steps_and_updates_diagnostics(noisy_sine):
    clean, noisy = noisy_sine
    x = noisy.copy()
    x[40:44, 0] = np.nan  # filled by the gap step
    x[200:260, 1] = np.nan  # stays missing
    x[100, 1] += 500  # a spike Hampel replaces
    poses = _poses(x)
    before = poses.points.copy()
    steps = [HampelFilter(), GapFill(max_gap=5), ButterworthFilter(cutoff=6), KalmanFilter(), SavgolFilter()]
    out = apply_filters_3d(poses, steps)
    np.testing.assert_array_equal(poses.points, before)  # input untouched
    assert [r["name"] for r in out.metadata["filters"]] == [
        "viterbi", "hampel", "fill", "butterworth", "kalman", "savgol"
    ]
    assert out.metadata["filters"][1]["outliers"] >= 1
    assert out.metadata["filters"][2]["filled"] == 4
    assert out.metadata["filters"][3]["params"] == {
        "cutoff": 6.0, "order": 4, "max_gap": 10, "method": "cubic", "fps": FPS
    }
    assert out.metadata["method"] == "dlt" and poses.metadata["filters"] == [{"name": "viterbi", "params": {}}]
    filled = np.zeros(out.points.shape[:2], bool)
    filled[40:44, 0] = True
    assert np.isfinite(out.points[filled]).all()
    assert (out.score[filled] == 0).all() and (out.ncams[filled] == 0).all() and not out.cameras_used[filled].any()
    assert np.isnan(out.points[200:260, 1]).all() and (out.score[200:260, 1] == 0).all()
    kept = ~filled & np.isfinite(x).all(-1)
    assert (out.score[kept] == 0.9).all() and (out.ncams[kept] == 3).all()
    assert _rms(out.points, clean) < _rms(noisy, clean) / 2


def test_apply_filters_3d_fps_override_and_missing_fps():
    x = np.random.default_rng(0).normal(size=(100, 2, 3))
    with pytest.raises(FilterError, match="--fps"):
        apply_filters_3d(_poses(x, fps=None), [ButterworthFilter()])
    out = apply_filters_3d(_poses(x, fps=None), [ButterworthFilter(cutoff=6)], fps=100.0)
    assert out.fps == 100.0 and out.metadata["filters"][-1]["params"]["fps"] == 100.0
    with pytest.raises(FilterError, match="half the frame rate"):
        apply_filters_3d(_poses(x, fps=10.0), [ButterworthFilter(cutoff=6)])


# --------------------------------------------------------------------------- configuration
@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"type": "butterworth", "order": 3}, "even number"),
        ({"type": "butterworth", "cutof": 6}, "unknown parameter.*cutoff"),
        ({"type": "lowess"}, "unknown 3d filter 'lowess'; use one of: error, hampel"),
        ({"type": "median", "window": 4}, "odd number"),
        ({"type": "savgol", "window": 5, "polyorder": 5}, "polyorder"),
        ({"type": "fill", "method": "quadratic"}, "linear, cubic, pchip"),
        ({"type": "kalman", "model": "jerk"}, "'velocity' or 'acceleration'"),
        ({"type": "hampel", "window": "wide"}, "`window` must be an integer, got .wide."),
        ({"type": "butterworth", "cutoff": "6"}, "`cutoff` must be a number, got .6."),
        ({"cutoff": 6}, "no `type`"),
    ],
)
def test_bad_step_configs_say_what_to_fix(spec, match):
    with pytest.raises(FilterError, match=match):
        step_from_dict(spec, "3d")


def test_step_from_dict_coerces_toml_numbers():
    step = step_from_dict({"type": "butter", "cutoff": 6, "order": 4.0}, "3d")
    assert step == ButterworthFilter(cutoff=6.0, order=4)
    assert isinstance(step.cutoff, float) and isinstance(step.order, int)


def test_load_filter_config(tmp_path: Path):
    path = tmp_path / "filters.toml"
    path.write_text(
        '[[filter2d]]\ntype = "likelihood"\nthreshold = 0.5\n\n'
        '[[filter3d]]\ntype = "hampel"\nwindow = 9\n\n[[filter3d]]\ntype = "butterworth"\ncutoff = 8\n'
    )
    pipeline = load_filter_config(path)
    assert pipeline.filter3d == (HampelFilter(window=9), ButterworthFilter(cutoff=8.0))
    assert pipeline.filter2d[0].threshold == 0.5
    with pytest.raises(FilterError, match="array of tables"):
        FilterPipeline.from_dict({"filter3d": {"type": "butterworth"}})
    (tmp_path / "empty.toml").write_text("[other]\na = 1\n")
    with pytest.raises(FilterError, match="unknown table \\[other\\]"):
        load_filter_config(tmp_path / "empty.toml")
    (tmp_path / "empty.toml").write_text('[triangulation]\nmethod = "dlt"\n')
    with pytest.raises(FilterError, match="no \\[\\[filter2d\\]\\]"):
        load_filter_config(tmp_path / "empty.toml")
    with pytest.raises(FilterError, match="does not exist"):
        load_filter_config(tmp_path / "nope.toml")


def test_anipose_filter3d_section_and_error_filter():
    pipe = FilterPipeline.from_dict(
        {"filter": {"enabled": False}, "filter3d": {"enabled": True, "medfilt": 7, "offset_threshold": 5}}
    )
    assert pipe.filter2d == ()
    assert [s.name for s in pipe.filter3d] == ["error", "fill", "median"]
    assert pipe.filter3d[0] == ErrorFilter(threshold=5.0) and pipe.filter3d[2] == MedianFilter(window=7)
    x = np.random.default_rng(3).normal(size=(40, 2, 3))
    poses = _poses(x)
    poses.error[10, 0] = 9.0  # above 5 px: dropped, then refilled by interpolation
    poses.error[20, 1] = np.nan  # unknown: kept
    out = apply_filters_3d(poses, pipe.filter3d)
    assert out.metadata["filters"][1]["removed"] == 1 and out.metadata["filters"][2]["filled"] == 1
    refilled = x.copy()
    refilled[10, 0] = (x[9, 0] + x[11, 0]) / 2  # linear interpolation
    np.testing.assert_allclose(out.points[10, 0], np.median(refilled[7:14, 0], axis=0))  # 7-frame median
    only_error = apply_filters_3d(poses, [ErrorFilter(5.0)])
    assert np.isnan(only_error.points[10, 0]).all() and np.isfinite(only_error.points[20, 1]).all()
    assert FilterPipeline.from_dict({"filter3d": {"enabled": False}}).filter3d == ()


def test_median_filter_config_default_matches_function():
    x = np.random.default_rng(2).normal(size=(50, 1, 3))
    out = apply_filters_3d(_poses(x), [MedianFilter(window=5)])
    np.testing.assert_array_equal(out.points, median_filter(x, 5))


# --------------------------------------------------------------------------- Pose2Sim reference
def test_butterworth_reproduces_pose2sim(dataset):
    trial = dataset("pose2sim-demo") / "Pose2Sim/S00_Demo_Session/S00_P00_SingleParticipant/S00_P00_T01_BalancingTrial"
    raw = load_trc(trial / "pose-3d/S00_P00_T01_BalancingTrial_0-100.trc")
    ref = load_trc(trial / "pose-3d/S00_P00_T01_BalancingTrial_0-100_filt_butterworth.trc").points
    assert raw.fps == 60.0 and raw.points.shape == ref.shape == (100, 21, 3)
    # Pose2Sim's Config.toml: [filtering.butterworth] order = 4, cut_off_frequency = 6.
    out = apply_filters_3d(raw, [ButterworthFilter(6.0, 4)])
    assert np.abs(out.points - ref).max() < 1e-6  # metres; measured 1.6e-15
    assert np.abs(raw.points - ref).max() > 1e-3  # the filter did something


def test_kalman_smoothing_does_not_depend_on_units(noisy_sine):
    """Same parameters, data in metres instead of millimetres: the same trajectory, 1000 times smaller."""
    _, noisy = noisy_sine
    x = noisy.copy()
    x[50:55] = np.nan
    pos_mm, vel_mm = kalman_smooth(x, FPS)
    pos_m, vel_m = kalman_smooth(x / 1000.0, FPS)
    np.testing.assert_allclose(pos_m * 1000.0, pos_mm, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(vel_m * 1000.0, vel_mm, rtol=1e-7, atol=1e-6)


# --------------------------------------------------------------------------- gap helpers (property)
@settings(max_examples=60, deadline=None)
@given(
    mask=hnp.arrays(bool, st.tuples(st.integers(1, 40), st.integers(1, 3))),
    max_gap=st.integers(0, 6),
)
def test_fill_gaps_fills_exactly_the_short_interior_gaps(mask, max_gap):
    line = np.broadcast_to(np.arange(mask.shape[0], dtype=float)[:, None] * 2.0 + 1.0, mask.shape)
    x = np.where(mask, line, np.nan)
    out, filled = fill_gaps(x, max_gap, "linear")
    for c in range(mask.shape[1]):  # brute force: walk each column's gaps
        seen = np.flatnonzero(mask[:, c])
        expect = np.zeros(mask.shape[0], bool)
        for a, b in zip(seen[:-1], seen[1:], strict=True):
            if 0 < b - a - 1 <= max_gap:
                expect[a + 1 : b] = True
        np.testing.assert_array_equal(filled[:, c], expect)
    np.testing.assert_array_equal(out[mask], x[mask])
    np.testing.assert_allclose(out[filled], line[filled])  # linear interpolation of a line is exact
    assert np.isnan(out[~mask & ~filled]).all()


# --------------------------------------------------------------------------- the sample rig
def test_sample_gaps_filled_within_twice_the_median_error():
    """Triangulated sample walker (2D median filter, DLT, Butterworth), with 3-10 frame gaps cut out and refilled."""
    sample_mod = pytest.importorskip("mocap3d.sample")
    triangulation = pytest.importorskip("mocap3d.triangulation")
    from mocap3d.filters import MedianOffsetFilter, apply_filters_2d

    s = sample_mod.make_sample(n_frames=300, n_cameras=4, seed=0)
    config = triangulation.TriangulationConfig(method="dlt", score_threshold=0.0)
    poses = triangulation.triangulate(apply_filters_2d(s.poses2d, [MedianOffsetFilter()]), s.rig, config)
    smooth = apply_filters_3d(poses, [ButterworthFilter(cutoff=6.0)])
    rng = np.random.default_rng(1)
    cut = np.zeros(smooth.points.shape[:2], bool)
    for k in range(cut.shape[1]):
        for start in rng.choice(np.arange(20, 270, 20), 5, replace=False):
            cut[start : start + rng.integers(3, 11), k] = True
    holed = dataclasses.replace(smooth, points=np.where(cut[..., None], np.nan, smooth.points))
    filled = apply_filters_3d(holed, [GapFill(max_gap=10, method="cubic")])
    err = np.linalg.norm(filled.points - s.truth.points, axis=-1)
    base = np.nanmedian(err[~cut])
    assert np.isfinite(err[cut]).all()
    assert np.median(err[cut]) < 2 * base  # measured 1.2x (about 4 mm against 3.4 mm)
    assert filled.metadata["filters"][-1]["filled"] == cut.sum()


def test_running_median_blocks_agree_with_one_pass():
    """Long recordings are processed in blocks of frames; block edges must not show."""
    from mocap3d.filters import _gaps

    x = np.random.default_rng(4).normal(size=(100, 3, 2))
    x[5:9] = np.nan
    x[31:34, 1] = np.nan
    whole = _gaps.running_median(x, 7, with_mad=True)
    blocks = _gaps.running_median(x, 7, with_mad=True, chunk=8)
    for a, b in zip(whole, blocks, strict=True):
        np.testing.assert_array_equal(a, b)
    brute = np.array([np.nanmedian(x[max(t - 3, 0) : t + 4], axis=0) for t in range(100)])
    np.testing.assert_array_equal(whole[0], brute)
