"""Spatiotemporal triangulation (``--method optim``): mocap3d against aniposelib, same input, one run.

Usage::

    python benchmarks/bench_optim.py              # 300 frames (aniposelib takes a few minutes)
    python benchmarks/bench_optim.py --quick      # 60 frames, smoke run
    python benchmarks/bench_optim.py --long 10000 # also 10,000 frames x 20 body parts (mocap3d only)

Prints a Markdown table and writes it to ``benchmarks/results/optim.md``.

What is compared
----------------
On the sample rig (``mocap3d.sample.make_sample``: 4 cameras, 1.5 px noise,
10 % confident outliers, occlusion gaps), with its rigid segments
(``sample.limbs``) as strong constraints and the same weights for everyone
(``scale_smooth``, ``scale_length``, ``n_deriv_smooth``, soft-L1 at
``reproj_loss_scale`` px, residuals weighted by score):

* mocap3d ``robust`` (frame by frame) and ``optim``;
* aniposelib 0.8.0 ``CameraGroup.triangulate_optim`` (its default start:
  plain DLT of every observation);
* aniposelib ``optim_points`` started from its ``triangulate_ransac``, with
  the RANSAC inliers as observations (what ``triangulate_optim(init_ransac=
  True)`` does; called in two steps because the RANSAC crashes on points with
  fewer than two views, which are left to the optimisation's interpolation).

3D error against the truth over every frame and body part (NaN counts as
missing, reported), the error on the points that the robust method could not
triangulate (gaps), and wall time.

``--long N``: a treadmill walker (the sample's gait without the forward
progression, so that it stays in view) with a 20th body part, N frames, the
same noise, outliers and occlusions; mocap3d ``optim`` unchunked, in a
subprocess whose peak resident memory is measured with ``resource``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import write_results

os.environ.setdefault("JAX_PLATFORMS", "cpu")

WEIGHTS = dict(scale_smooth=4.0, scale_length=2.0, scale_length_weak=0.5, n_deriv_smooth=2)
LOSS_SCALE = 3.0


def stats(est: np.ndarray, truth: np.ndarray, gaps: np.ndarray) -> dict:
    e = np.linalg.norm(est - truth, axis=-1)
    finite = np.isfinite(e)
    return {
        "median": float(np.nanmedian(e)),
        "p90": float(np.nanpercentile(e, 90)),
        "p99": float(np.nanpercentile(e, 99)),
        "gap_median": float(np.nanmedian(e[gaps])) if (gaps & finite).any() else float("nan"),
        "coverage": float(finite.mean()),
    }


def treadmill_sample(n_frames: int, seed: int = 0):
    """The sample's walker on a treadmill with a 20th body part ('chest'), observed like make_sample's."""
    from mocap3d.poses import Poses2D
    from mocap3d.sample import KEYPOINTS, make_rig, walk

    rng = np.random.default_rng(seed)
    rig = make_rig(n_cameras=4, seed=seed)
    points, _, _ = walk(n_frames=n_frames)
    points[..., 0] -= points[:, KEYPOINTS.index("pelvis"), None, 0]  # stay at x = 0: the belt moves the feet
    idx = {k: i for i, k in enumerate(KEYPOINTS)}
    chest = 0.5 * (points[:, idx["l_shoulder"]] + points[:, idx["r_shoulder"]]) - [0.0, 0.0, 150.0]
    points = np.concatenate([points, chest[:, None]], axis=1)
    keypoints = (*KEYPOINTS, "chest")
    v, (f, k) = rig.n_cameras, points.shape[:2]
    obs = rig.project(points) + rng.normal(0.0, 1.5, (v, f, k, 2))
    scores = rng.uniform(0.6, 1.0, (v, f, k))
    bad = rng.random((v, f, k)) < 0.1
    obs[bad] += rng.normal(0.0, 120.0, (int(bad.sum()), 2)) + rng.choice([-1, 1], (int(bad.sum()), 2)) * 60.0
    scores[bad] = rng.uniform(0.8, 1.0, int(bad.sum()))
    # Occlusions: runs of 3-25 frames per camera and body part (about 6 % of observations).
    starts = rng.random((v, f, k)) < 0.06 / 14
    lengths = rng.integers(3, 26, (v, f, k))
    end = np.where(starts, np.arange(f)[None, :, None] + lengths, -1)
    hidden = np.maximum.accumulate(end, axis=1) > np.arange(f)[None, :, None]
    hidden |= ~rig.in_image(obs)
    obs[hidden] = np.nan
    scores[hidden] = 0.0
    limbs = [("l_hip", "l_knee"), ("r_hip", "r_knee"), ("l_knee", "l_ankle"), ("r_knee", "r_ankle"),
             ("l_shoulder", "l_elbow"), ("r_shoulder", "r_elbow"), ("l_elbow", "l_wrist"), ("r_elbow", "r_wrist"),
             ("l_ankle", "l_heel"), ("r_ankle", "r_heel"), ("l_heel", "l_toe"), ("r_heel", "r_toe")]  # fmt: skip
    poses = Poses2D(views=rig.names, keypoints=keypoints, points=obs, scores=scores, fps=60.0)
    return rig, points, poses, limbs


def long_run(n_frames: int) -> dict:
    """Run in a subprocess: mocap3d optim on the treadmill walker; time, peak memory, accuracy."""
    import resource

    from mocap3d.triangulation import TriangulationConfig, triangulate

    rig, truth, poses, limbs = treadmill_sample(n_frames)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    cfg = TriangulationConfig(method="optim", constraints=limbs, reproj_loss_scale=LOSS_SCALE, **WEIGHTS)
    t = time.perf_counter()
    robust = triangulate(poses, rig, cfg.replace(method="robust"))
    t_robust = time.perf_counter() - t
    t = time.perf_counter()
    out = triangulate(poses, rig, cfg)
    elapsed = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB -> GB on Linux
    gaps = ~np.isfinite(robust.points).all(-1)
    return {
        "frames": n_frames, "body_parts": len(poses.keypoints), "cameras": rig.n_cameras,
        "seconds": elapsed, "robust_seconds": t_robust, "peak_gb": peak, "peak_before_gb": before,
        "iterations": out.metadata["optim"]["iterations"], "optim": stats(out.points, truth, gaps),
        "robust": stats(robust.points, truth, gaps),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="60 frames")
    parser.add_argument("--long", type=int, default=0, help="also run mocap3d on a treadmill walker of N frames")
    parser.add_argument("--no-aniposelib", action="store_true", help="skip the peer (mocap3d rows only)")
    parser.add_argument("--long-child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "optim.md")
    args = parser.parse_args()
    if args.long_child:
        print(json.dumps(long_run(args.long_child)))
        return 0
    if args.quick:
        args.frames = 60

    from mocap3d.sample import make_sample
    from mocap3d.triangulation import TriangulationConfig, triangulate

    s = make_sample(n_frames=args.frames, seed=args.seed)
    truth = s.truth.points
    limbs = [list(p) for p in s.limbs]
    cfg = TriangulationConfig(method="optim", constraints=limbs, reproj_loss_scale=LOSS_SCALE, **WEIGHTS)
    rows: dict[str, dict] = {}

    t = time.perf_counter()
    robust = triangulate(s.poses2d, s.rig, cfg.replace(method="robust"))
    t_robust = time.perf_counter() - t
    gaps = ~np.isfinite(robust.points).all(-1)
    rows["mocap3d robust (frame by frame)"] = {**stats(robust.points, truth, gaps), "seconds": t_robust}
    triangulate(s.poses2d, s.rig, cfg)  # warm-up (imports, first-call costs), as aniposelib gets below
    t = time.perf_counter()
    optim = triangulate(s.poses2d, s.rig, cfg)
    rows["mocap3d optim"] = {**stats(optim.points, truth, gaps), "seconds": time.perf_counter() - t}
    print(rows, flush=True)

    if not args.no_aniposelib:
        from aniposelib.cameras import CameraGroup

        from mocap3d.io.calibration import save_calibration

        path = Path(tempfile.mkdtemp()) / "calibration.toml"
        save_calibration(s.rig, path)
        group = CameraGroup.load(str(path))
        kp = {k: i for i, k in enumerate(s.poses2d.keypoints)}
        kwargs = dict(constraints=[[kp[a], kp[b]] for a, b in limbs], reproj_error_threshold=LOSS_SCALE,
                      reproj_loss="soft_l1", scores=s.poses2d.scores, **WEIGHTS)  # fmt: skip
        # Same observations as mocap3d: below the score threshold is missing.
        pts = np.where((s.poses2d.scores >= cfg.score_threshold)[..., None], s.poses2d.points, np.nan)
        group.triangulate(pts[:, :2].reshape(s.rig.n_cameras, -1, 2), progress=False)  # warm up JAX
        t = time.perf_counter()
        ani = group.triangulate_optim(pts, **kwargs)
        rows["aniposelib triangulate_optim (DLT start)"] = {**stats(ani, truth, gaps),
                                                            "seconds": time.perf_counter() - t}  # fmt: skip
        print(rows, flush=True)
        t = time.perf_counter()
        v, f, k, _ = pts.shape
        flat = pts.reshape(v, f * k, 2)
        enough = np.isfinite(flat).all(-1).sum(0) >= 2
        p3ds = np.full((f * k, 3), np.nan)
        inliers = np.full_like(flat, np.nan)
        p3ds[enough], _, inliers[:, enough], _ = group.triangulate_ransac(flat[:, enough], min_cams=2, progress=False)
        ani_r = group.optim_points(inliers.reshape(pts.shape), p3ds.reshape(f, k, 3), **kwargs)
        rows["aniposelib optim_points (RANSAC start)"] = {**stats(ani_r, truth, gaps),
                                                          "seconds": time.perf_counter() - t}  # fmt: skip
        print(rows, flush=True)

    long = None
    if args.long:
        proc = subprocess.run([sys.executable, __file__, "--long-child", str(args.long)], capture_output=True,
                              text=True, check=True)  # fmt: skip
        long = json.loads(proc.stdout.strip().splitlines()[-1])
        print(long, flush=True)

    lines = [
        "# Spatiotemporal triangulation (`--method optim`): mocap3d vs aniposelib 0.8.0",
        "",
        f"Command: `python benchmarks/bench_optim.py{' --quick' if args.quick else ''}"
        f"{f' --frames {args.frames}' if args.frames != 300 and not args.quick else ''}"
        f"{f' --long {args.long}' if args.long else ''}` ({os.cpu_count()} cores, numpy {np.__version__}).",
        "",
        f"Sample rig, {args.frames} frames x {len(s.poses2d.keypoints)} body parts x {s.rig.n_cameras} cameras "
        f"(1.5 px noise, 10% confident outliers, occlusions), {len(limbs)} rigid segments as strong constraints; "
        f"everyone: scale_smooth {WEIGHTS['scale_smooth']:g}, scale_length {WEIGHTS['scale_length']:g}, "
        f"n_deriv_smooth {WEIGHTS['n_deriv_smooth']}, soft-L1 at {LOSS_SCALE:g} px, residuals weighted by score. "
        f"Gaps: the {int(gaps.sum())} points the robust method could not triangulate.",
        "",
        "| method | median (mm) | p90 (mm) | p99 (mm) | gaps median (mm) | coverage | time (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['median']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} | {r['gap_median']:.2f} | "
                     f"{r['coverage']:.1%} | {r['seconds']:.2f} |")  # fmt: skip
    ro, op = rows["mocap3d robust (frame by frame)"], rows["mocap3d optim"]
    checks = [
        ("optim median <= 0.5 x robust", op["median"] / ro["median"], op["median"] <= 0.5 * ro["median"]),
        ("optim p99 <= 0.2 x robust", op["p99"] / ro["p99"], op["p99"] <= 0.2 * ro["p99"]),
        ("gaps median <= 2 x median", op["gap_median"] / op["median"], op["gap_median"] <= 2 * op["median"]),
    ]
    for name, r in rows.items():
        if name.startswith("aniposelib"):
            short = name.split(" ", 1)[1]
            checks += [
                (f"median <= {short}", op["median"] / r["median"], op["median"] <= r["median"]),
                (f"p90 <= {short}", op["p90"] / r["p90"], op["p90"] <= r["p90"]),
                (f"time >= 10x less than {short}", r["seconds"] / op["seconds"], r["seconds"] >= 10 * op["seconds"]),
            ]
    lines += ["", "| acceptance (issue #5) | ratio | met |", "|---|---|---|"]
    lines += [f"| {name} | {ratio:.3g} | {'yes' if ok else 'NO'} |" for name, ratio, ok in checks]
    if long:
        o, r = long["optim"], long["robust"]
        lines += [
            "",
            f"Long recording (treadmill walker, {long['frames']} frames x {long['body_parts']} body parts x "
            f"{long['cameras']} cameras, one chunk): optim {long['seconds']:.1f} s "
            f"({sum(long['iterations'])} iterations), peak resident memory {long['peak_gb']:.2f} GB "
            f"({long['peak_before_gb']:.2f} GB before triangulating); 3D error median {o['median']:.2f} mm, "
            f"p99 {o['p99']:.2f} mm (robust: {r['median']:.2f} / {r['p99']:.2f} mm, {long['robust_seconds']:.1f} s).",
        ]
    text = "\n".join(lines) + "\n"
    write_results(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
