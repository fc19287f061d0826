"""The one gap filler (mocap3d.gaps): interior gaps by length, held ends, never-seen columns, splines."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.gaps import fill_gaps, fillable


def _column(values):
    return np.array(values, dtype=float)[:, None]


def test_linear_fill_respects_max_gap_and_leaves_the_ends():
    x = _column([np.nan, 1.0, np.nan, 3.0, np.nan, np.nan, np.nan, 7.0, np.nan])
    filled, was = fill_gaps(x, 2)
    np.testing.assert_array_equal(filled[:, 0], [np.nan, 1, 2, 3, np.nan, np.nan, np.nan, 7, np.nan])
    np.testing.assert_array_equal(was[:, 0], [0, 0, 1, 0, 0, 0, 0, 0, 0])
    every, _ = fill_gaps(x, None)
    np.testing.assert_array_equal(every[:, 0], [np.nan, 1, 2, 3, 4, 5, 6, 7, np.nan])
    assert np.isnan(x[2, 0])  # the input is not modified


def test_hold_ends_fills_everything_a_column_can_have():
    x = np.column_stack([[np.nan, 2.0, np.nan, 4.0, np.nan], np.full(5, np.nan)])
    filled, was = fill_gaps(x, None, hold_ends=True)
    np.testing.assert_array_equal(filled[:, 0], [2, 2, 3, 4, 4])
    assert np.isnan(filled[:, 1]).all() and not was[:, 1].any()  # never seen: stays NaN
    with pytest.raises(ValueError, match="linear"):
        fill_gaps(x, None, "cubic", hold_ends=True)


def test_linear_fill_is_numpy_interp_inside_gaps():
    """What gait analysis used before (np.interp per column, gaps longer than max_gap NaN again)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).cumsum(0)
    x[rng.random(x.shape) < 0.3] = np.nan
    filled, was = fill_gaps(x, 4)
    t = np.arange(len(x))
    for j in range(x.shape[1]):
        ok = np.isfinite(x[:, j])
        ref = np.interp(t, t[ok], x[ok, j])
        np.testing.assert_allclose(filled[was[:, j], j], ref[was[:, j]], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(was, fillable(np.isfinite(x), 4))


@pytest.mark.parametrize("method", ["cubic", "pchip"])
def test_spline_fill_passes_through_the_samples(method):
    t = np.arange(40, dtype=float)
    x = np.column_stack([np.sin(t / 5), np.cos(t / 5)])
    gapped = x.copy()
    gapped[10:13] = np.nan
    filled, was = fill_gaps(gapped, 5, method)
    assert was[10:13].all() and was.sum() == 6
    # the not-a-knot spline follows a sine closely; pchip (shape-preserving, flatter at extrema) less so
    np.testing.assert_allclose(filled[10:13], x[10:13], atol=2e-3 if method == "cubic" else 2e-2)
    linear, _ = fill_gaps(gapped, 5)
    assert np.abs(filled[10:13] - x[10:13]).max() < np.abs(linear[10:13] - x[10:13]).max()
    np.testing.assert_array_equal(filled[~was], x[~was])


def test_running_median_hold_ends_is_scipy_nearest_and_ignores_nan():
    """One running median for every caller: with held ends it is scipy's ``mode="nearest"`` median filter."""
    from scipy.ndimage import median_filter

    from mocap3d.gaps import running_median

    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 3))
    np.testing.assert_array_equal(running_median(x, 7, ends="hold"), median_filter(x, size=(7, 1), mode="nearest"))
    x[[0, 5, 6], 1] = np.nan
    med = running_median(x, 5, ends="hold")
    assert med[0, 1] == np.median(x[1:3, 1])  # the held first sample is NaN: ignored like any other
    np.testing.assert_array_equal(med[:, 0], median_filter(x[:, 0], size=5, mode="nearest"))
    assert med[8, 1] == np.nanmedian(x[6:11, 1])
    short = running_median(x[:, :1], 5)  # shortened ends: the first frame sees frames 0..2 only
    assert short[0, 0] == np.median(x[:3, 0])
