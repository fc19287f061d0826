"""Temporal filters: accuracy of filtered pipelines against aniposelib's triangulation, and filter speed.

Usage::

    python benchmarks/bench_filters.py            # 300-frame sample + 10,000-frame timing, 2-3 minutes
    python benchmarks/bench_filters.py --quick    # small, for a smoke run

Prints a Markdown table and writes it to benchmarks/results/filters.md.

What is compared
----------------
* Accuracy on the sample rig (4 cameras, 1.5 px noise, 10 % confident
  outliers, occlusion gaps), 3D error against the truth, same 2D input for
  everyone: aniposelib ``triangulate`` (plain DLT) and ``triangulate_ransac``
  on the raw detections, against mocap3d's DLT after its 2D filters (median +
  offset threshold, Viterbi) and after 3D filters (Hampel, Butterworth,
  Kalman/RTS). The peers that implement these filters (anipose's
  ``filter_pose``, Pose2Sim's ``filtering``) are not installable here, so
  the comparison is the peer's unfiltered triangulation against the filtered
  pipeline; ratios are errors relative to aniposelib RANSAC.
  aniposelib's RANSAC is a Python loop over points (milliseconds each): it
  runs on ``--ransac-frames`` frames in the middle of the recording only, and
  everyone is scored on those.
* Speed of every filter on 10,000 frames x 19 keypoints (x 4 views for the 2D
  filters), best of 2 runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import best_time, write_results

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300, help="sample-rig frames for the accuracy table")
    parser.add_argument("--ransac-frames", type=int, default=100, help="frames given to aniposelib's RANSAC")
    parser.add_argument("--timing-frames", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "filters.md")
    args = parser.parse_args()
    if args.quick:
        args.ransac_frames, args.timing_frames = 30, 1000

    from aniposelib.cameras import CameraGroup

    from mocap3d.filters import (
        ButterworthFilter,
        HampelFilter,
        KalmanFilter,
        MedianOffsetFilter,
        ViterbiFilter,
        apply_filters_2d,
        apply_filters_3d,
        butterworth,
        fill_gaps,
        hampel,
        kalman_smooth,
        median_filter,
        median_offset,
        savgol,
        viterbi,
    )
    from mocap3d.io.calibration import save_calibration
    from mocap3d.sample import make_sample
    from mocap3d.triangulation import TriangulationConfig, triangulate

    s = make_sample(n_frames=args.frames, n_cameras=4, seed=0)
    tmp = Path(tempfile.mkdtemp())
    save_calibration(s.rig, tmp / "calibration.toml")
    group = CameraGroup.load(str(tmp / "calibration.toml"))
    truth = s.truth.points
    # The walker crosses the cameras' views around the middle of the recording; score the middle frames.
    first = max((args.frames - args.ransac_frames) // 2, 0)
    scored = slice(first, first + args.ransac_frames)

    def stats(points: np.ndarray) -> tuple[float, float, float, float]:
        e = np.linalg.norm(points[scored] - truth[scored], axis=-1)
        return float(np.nanmedian(e)), float(np.nanpercentile(e, 90)), float(np.nanpercentile(e, 99)), float(
            np.isfinite(e).mean()
        )

    rows: dict[str, tuple[tuple[float, float, float, float], float]] = {}
    obs = s.poses2d.points.reshape(4, -1, 2)
    t = time.perf_counter()
    rows["aniposelib DLT (raw)"] = (stats(group.triangulate(obs, progress=False).reshape(truth.shape)), 0.0)
    rows["aniposelib DLT (raw)"] = (rows["aniposelib DLT (raw)"][0], time.perf_counter() - t)
    sub = s.poses2d.points[:, scored].reshape(4, -1, 2)
    enough = np.isfinite(sub).all(-1).sum(0) >= 2  # its RANSAC crashes on points seen by fewer than 2 cameras
    ransac = np.full((sub.shape[1], 3), np.nan)
    t = time.perf_counter()
    ransac[enough] = group.triangulate_ransac(sub[:, enough], min_cams=2, progress=False)[0]
    t_ransac = time.perf_counter() - t
    full = np.full_like(truth, np.nan)
    full[scored] = ransac.reshape(truth[scored].shape)
    rows["aniposelib RANSAC (raw)"] = (stats(full), t_ransac * args.frames / args.ransac_frames)

    dlt = TriangulationConfig(method="dlt", score_threshold=0.0)
    robust = TriangulationConfig(method="robust", score_threshold=0.0)

    def run(name: str, steps2d, config, steps3d=()) -> None:
        t = time.perf_counter()
        poses2d = apply_filters_2d(s.poses2d, steps2d) if steps2d else s.poses2d
        poses3d = triangulate(poses2d, s.rig, config)
        if steps3d:
            poses3d = apply_filters_3d(poses3d, steps3d)
        rows[name] = (stats(poses3d.points), time.perf_counter() - t)
        print(name, rows[name], flush=True)

    median2d = [MedianOffsetFilter(window=7, offset_threshold=20.0)]
    run("mocap3d DLT (raw)", [], dlt)
    run("mocap3d 2D median + DLT", median2d, dlt)
    run("mocap3d 2D Viterbi + DLT", [ViterbiFilter()], dlt)
    run("mocap3d 2D median + DLT + Butterworth 6 Hz", median2d, dlt, [ButterworthFilter(cutoff=6.0)])
    run("mocap3d 2D median + DLT + Kalman/RTS", median2d, dlt, [KalmanFilter()])
    run("mocap3d robust + Hampel + Butterworth 6 Hz", [], robust, [HampelFilter(), ButterworthFilter(cutoff=6.0)])

    ref = rows["aniposelib RANSAC (raw)"][0]
    lines = [
        "# Filter benchmark",
        "",
        f"Command: `python benchmarks/bench_filters.py{' --quick' if args.quick else ''}` "
        f"({os.cpu_count()} cores, numpy {np.__version__}). Sample rig: {args.frames} frames, 4 cameras, 19 keypoints, "
        f"1.5 px noise, 10 % confident outliers, occlusion gaps; errors on the middle {args.ransac_frames} frames "
        "(those aniposelib's RANSAC is given; filters see the whole recording).",
        "",
        "| pipeline | median (mm) | p90 (mm) | p99 (mm) | points | median / RANSAC | p90 / RANSAC | wall time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, ((med, p90, p99, frac), wall) in rows.items():
        lines.append(
            f"| {name} | {med:.2f} | {p90:.2f} | {p99:.2f} | {frac:.1%} | {med / ref[0]:.2f} | {p90 / ref[1]:.2f} "
            f"| {wall:.2f}{' (extrapolated)' if 'RANSAC' in name else ''} |"
        )

    # --- speed of each filter
    rng = np.random.default_rng(0)
    n = args.timing_frames
    x3 = np.cumsum(rng.normal(0, 2, (n, 19, 3)), axis=0)
    x3[rng.random((n, 19)) < 0.05] = np.nan
    p2 = np.cumsum(rng.normal(0, 2, (n, 4 * 19, 2)), axis=0)
    s2 = rng.uniform(0.5, 1.0, (n, 4 * 19))
    timings = {
        "hampel (window 7)": lambda: hampel(x3, 7),
        "median (window 5)": lambda: median_filter(x3, 5),
        "butterworth (6 Hz, order 4)": lambda: butterworth(x3, 60.0, 6.0, 4),
        "savgol (window 9, order 3)": lambda: savgol(x3, 9, 3),
        "kalman/RTS (constant acceleration)": lambda: kalman_smooth(x3, 60.0),
        "gap fill (cubic, 10 frames)": lambda: fill_gaps(x3, 10, "cubic"),
        "2D median + offset + spline (4 views)": lambda: median_offset(p2, s2),
        "2D viterbi (n_back 4, 4 views)": lambda: viterbi(p2, s2),
    }
    lines += ["", f"Filter speed on {n} frames x 19 keypoints (2D: x 4 views), best of 2:", "",
              "| filter | wall time (s) | frames / s |", "|---|---|---|"]  # fmt: skip
    for name, fn in timings.items():
        wall = best_time(fn, repeats=2)
        lines.append(f"| {name} | {wall:.3f} | {n / wall:,.0f} |")
        print(name, wall, flush=True)

    text = "\n".join(lines) + "\n"
    write_results(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
