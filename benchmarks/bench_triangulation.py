"""Triangulation speed and accuracy: mocap3d against aniposelib, same input, one run.

Usage::

    python benchmarks/bench_triangulation.py            # full size (100k points), a few minutes
    python benchmarks/bench_triangulation.py --quick    # small, for a smoke run

Prints a Markdown table with ratios and writes it to benchmarks/results/triangulation.md.

What is compared
----------------
* DLT throughput: aniposelib ``CameraGroup.triangulate`` (JAX, undistorts
  internally), warm, against mocap3d's undistortion + batched weighted DLT,
  4 cameras x N points. Best of 3 runs each.
* Robust mode per point: aniposelib ``triangulate_ransac`` (a Python loop over
  points; timed on a subset because it takes milliseconds per point) against
  mocap3d's robust mode on all N points, for 2, 4 and 6 cameras.
* Accuracy on the sample rig (4 cameras, 1.5 px noise, 10 % confident
  outliers, occlusion gaps): 3D error median and 90th percentile of plain DLT,
  aniposelib RANSAC and mocap3d robust, against the truth. aniposelib's RANSAC
  crashes on points with fewer than two views, so it gets only the points that
  have two; mocap3d gets everything.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import best_time, write_results

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def anipose_group(rig, folder: Path):
    from aniposelib.cameras import CameraGroup

    from mocap3d.io.calibration import save_calibration

    path = folder / f"calibration_{rig.n_cameras}.toml"
    save_calibration(rig, path)
    return CameraGroup.load(str(path))


def synthetic_points(rig, n: int, seed: int = 0, noise: float = 1.5, outliers: float = 0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 400, (n, 3)) + [0, 0, 900]
    obs = rig.project(X) + rng.normal(0, noise, (rig.n_cameras, n, 2))
    bad = rng.random((rig.n_cameras, n)) < outliers
    obs[bad] += rng.choice([-1, 1], (int(bad.sum()), 2)) * rng.uniform(30, 200, (int(bad.sum()), 2))
    return X, obs


def _errors(est, truth):
    """Median and 90th percentile of the 3D error over the triangulated points, and the fraction triangulated."""
    e = np.linalg.norm(est - truth, axis=1)
    return np.nanmedian(e), np.nanpercentile(e, 90), np.isfinite(e).mean()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--ransac-points", type=int, default=200, help="points timed for aniposelib's RANSAC")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "triangulation.md")
    args = parser.parse_args()
    if args.quick:
        args.points, args.ransac_points = 5000, 30

    from mocap3d.sample import make_rig, make_sample
    from mocap3d.triangulation import TriangulationConfig, triangulate, triangulate_dlt, triangulate_robust

    rows = []
    random_acc = []
    tmp = Path(tempfile.mkdtemp())

    # --- DLT throughput, 4 cameras
    rig = make_rig(n_cameras=4, seed=0)
    group = anipose_group(rig, tmp)
    X, obs = synthetic_points(rig, args.points)
    group.triangulate(obs[:, :100], progress=False)  # warm up JAX
    t_ani = best_time(lambda: group.triangulate(obs, progress=False))
    P = rig.projection_matrices()
    t_ours = best_time(lambda: triangulate_dlt(P, rig.undistort_points(obs)))
    rows.append(("DLT, 4 cameras, undistortion included", f"{args.points} points",
                 f"{t_ani / args.points * 1e6:.2f} us/pt", f"{t_ours / args.points * 1e6:.2f} us/pt",
                 f"{t_ani / t_ours:.1f}x"))  # fmt: skip
    print(rows[-1], flush=True)

    # --- robust per point, 2/4/6 cameras
    for n_cams in (2, 4, 6):
        rig_c = make_rig(n_cameras=n_cams, seed=0)
        group_c = anipose_group(rig_c, tmp)
        X_c, obs_c = synthetic_points(rig_c, args.points, seed=n_cams)
        sub = obs_c[:, : args.ransac_points]
        t = time.perf_counter()
        ani_sub = group_c.triangulate_ransac(sub, min_cams=2, progress=False)[0]
        per_ani = (time.perf_counter() - t) / args.ransac_points
        und = rig_c.undistort_points(obs_c)
        P_c = rig_c.projection_matrices()
        t_r = best_time(lambda und=und, P_c=P_c: triangulate_robust(P_c, und, np.ones(und.shape[:2])), repeats=2)
        ours_sub = triangulate_robust(P_c, und[:, : args.ransac_points], np.ones((n_cams, args.ransac_points)))[0]
        truth_sub = X_c[: args.ransac_points]
        random_acc.append((n_cams, _errors(ani_sub, truth_sub), _errors(ours_sub, truth_sub)))
        per_ours = t_r / args.points
        sizes = f"aniposelib {args.ransac_points} / mocap3d {args.points}"
        speed = (f"{per_ani * 1e3:.2f} ms/pt", f"{per_ours * 1e6:.2f} us/pt", f"{per_ani / per_ours:.0f}x")
        rows.append((f"robust per point, {n_cams} cameras", sizes, *speed))
        print(rows[-1], flush=True)

    # --- accuracy on the sample rig
    s = make_sample(n_frames=300 if not args.quick else 60, seed=0)
    group_s = anipose_group(s.rig, tmp)
    truth = s.truth.points.reshape(-1, 3)
    pts = s.poses2d.points.reshape(s.rig.n_cameras, -1, 2)
    enough = np.isfinite(pts).all(-1).sum(0) >= 2
    # One body part hidden in every camera for one frame (out of view, or below anipose's score threshold).
    hidden = pts.copy()
    hidden[:, 0] = np.nan
    try:
        group_s.triangulate_ransac(hidden, min_cams=2, progress=False)
        crash = "no"
    except Exception as exc:  # noqa: BLE001 - reporting the peer's failure is the point
        crash = f"yes ({type(exc).__name__}: {exc})"
    hidden_poses = dataclasses.replace(s.poses2d, points=hidden.reshape(s.poses2d.points.shape))
    ours_hidden = triangulate(hidden_poses, s.rig, TriangulationConfig(method="robust", score_threshold=0.0))
    ours_crash = f"no (that point is NaN: {bool(np.isnan(ours_hidden.points[0, 0]).all())})"
    t = time.perf_counter()
    ani_ransac = np.full_like(truth, np.nan)
    ani_ransac[enough] = group_s.triangulate_ransac(pts[:, enough], min_cams=2, progress=False)[0]
    t_ani_ransac = time.perf_counter() - t
    ani_dlt = group_s.triangulate(pts, progress=False)
    t = time.perf_counter()
    ours = triangulate(s.poses2d, s.rig, TriangulationConfig(method="robust", score_threshold=0.0)).points
    ours = ours.reshape(-1, 3)
    t_ours_r = time.perf_counter() - t
    ours_dlt = triangulate(s.poses2d, s.rig, TriangulationConfig(method="dlt", score_threshold=0.0)).points
    ours_dlt = ours_dlt.reshape(-1, 3)

    estimates = {"aniposelib DLT": ani_dlt, "aniposelib RANSAC": ani_ransac, "mocap3d DLT": ours_dlt,
                 "mocap3d robust": ours}  # fmt: skip
    acc = {name: _errors(est[enough], truth[enough]) for name, est in estimates.items()}
    for name, (med, p90, frac) in acc.items():
        print(f"{name}: median {med:.2f} mm, p90 {p90:.2f} mm, triangulated {frac:.1%}", flush=True)

    lines = [
        "# Triangulation benchmark: mocap3d vs aniposelib 0.8.0",
        "",
        f"Command: `python benchmarks/bench_triangulation.py{' --quick' if args.quick else ''}` "
        f"({os.cpu_count()} cores, numpy {np.__version__}).",
        "",
        "| what | input | aniposelib | mocap3d | speed-up |",
        "|---|---|---|---|---|",
        *[f"| {' | '.join(r)} |" for r in rows],
        "",
        f"Accuracy on the sample rig (4 cameras, 1.5 px noise, 10% confident outliers, occlusions; "
        f"{int(enough.sum())} points with >= 2 views).",
        "",
        "| method | 3D error median (mm) | 90th pct (mm) | triangulated | time |",
        "|---|---|---|---|---|",
    ]
    times = {"aniposelib RANSAC": f"{t_ani_ransac:.1f} s", "mocap3d robust": f"{t_ours_r:.2f} s"}
    for name, (med, p90, frac) in acc.items():
        lines.append(f"| {name} | {med:.2f} | {p90:.2f} | {frac:.1%} | {times.get(name, '')} |")
    ratio_med = acc["aniposelib RANSAC"][0] / acc["mocap3d robust"][0]
    ratio_p90 = acc["aniposelib RANSAC"][1] / acc["mocap3d robust"][1]
    lines += ["", f"Error ratio aniposelib RANSAC / mocap3d robust: median {ratio_med:.2f}x, p90 {ratio_p90:.2f}x."]
    lines += ["", "With one body part hidden in every camera for one frame (out of view, or below the score threshold "
              f"everywhere), aniposelib's `triangulate_ransac` crashes: {crash}; mocap3d's robust mode crashes: "
              f"{ours_crash}."]  # fmt: skip
    lines += [
        "",
        f"Accuracy on the random points of the speed rows ({args.ransac_points} points spread over about 1 m, "
        "1.5 px noise, 10% of observations moved 30-200 px, full confidence):",
        "",
        "| cameras | aniposelib RANSAC median / p90 (mm) | mocap3d robust median / p90 (mm) "
        "| triangulated (ani / ours) |",
        "|---|---|---|---|",
        *[f"| {n} | {a[0]:.2f} / {a[1]:.2f} | {o[0]:.2f} / {o[1]:.2f} | {a[2]:.1%} / {o[2]:.1%} |"
          for n, a, o in random_acc],
    ]
    text = "\n".join(lines) + "\n"
    write_results(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
