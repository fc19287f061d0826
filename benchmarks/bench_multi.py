"""Several animals: identity switches, 3D accuracy against the single-animal result, association time.

Usage::

    python benchmarks/bench_multi.py            # 2 and 3 walkers x 10,000 frames, cameras 3-8 (minutes)
    python benchmarks/bench_multi.py --quick    # 1,000 frames, for a smoke run

Prints Markdown tables and writes them to benchmarks/results/multi.md.

The scene (:mod:`mocap3d.synthetic.herd`): walkers on concentric circles
that pass each other in opposite directions, 4 cameras, 1.5 px noise, 3 %
confident outliers, keypoint occlusion runs, 5 % of detections missing, an
individual hidden behind another one (2D boxes overlapping > 60 %) not
detected, and per-camera label swaps (1 % of frames per camera), so the
files' labels are useless.

* **Identity switches**: per tracked individual and frame, the true identity
  of the detections it was given (the majority when mixed); a switch is a
  change of that identity between consecutive frames. "Mixed" counts
  individual-frames holding detections of two true individuals.
* **3D error**: median distance to the truth of each individual's robust
  triangulation, against the same triangulation of its perfectly associated
  2D (the single-animal result on the same animals and noise).
* **Time**: association and tracking per frame, wall clock and this
  process's CPU time (steadier when other jobs share the machine), for 3 to 8
  cameras.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from _common import write_results  # noqa: E402

from mocap3d.multi import Detections, TrackingConfig  # noqa: E402
from mocap3d.synthetic.herd import make_herd  # noqa: E402
from mocap3d.triangulation import TriangulationConfig, triangulate  # noqa: E402
from mocap3d.triangulation.individuals import triangulate_individuals  # noqa: E402


def identities(herd, assignment: np.ndarray) -> tuple[np.ndarray, int]:
    """Per frame the true identity a track holds (-1: none) and the number of mixed frames."""
    ids = np.take_along_axis(herd.identity, np.clip(assignment, 0, None)[..., None], axis=2)[..., 0]  # (V, F)
    ids = np.where(assignment >= 0, ids, -1)
    f = ids.shape[1]
    out = np.full(f, -1)
    mixed = 0
    for fi in range(f):
        col = ids[:, fi][ids[:, fi] >= 0]
        if col.size:
            vals, counts = np.unique(col, return_counts=True)
            out[fi] = vals[np.argmax(counts)]
            mixed += vals.size > 1
    return out, mixed


def switches(track_ids: np.ndarray) -> int:
    seen = track_ids[track_ids >= 0]
    return int((np.diff(seen) != 0).sum())


def run_scene(n_individuals: int, n_frames: int, n_cameras: int, seed: int) -> dict:
    herd = make_herd(n_individuals=n_individuals, n_frames=n_frames, n_cameras=n_cameras, seed=seed)
    det = Detections(views=herd.rig.names, keypoints=herd.keypoints, points=herd.points, scores=herd.scores,
                     fps=herd.fps)  # fmt: skip
    config = TriangulationConfig()
    poses, result = triangulate_individuals(det, herd.rig, config, tracking=TrackingConfig(n_individuals=None))
    n_switch = n_mixed = 0
    errs_multi, errs_single = [], []
    for t, name in enumerate(result.names):
        ids, mixed = identities(herd, result.assignment[t])
        n_switch += switches(ids)
        n_mixed += mixed
        if name not in poses or not (ids >= 0).any():
            continue
        true_name = herd.names[np.bincount(ids[ids >= 0]).argmax()]
        truth = herd.truth[true_name].points
        errs_multi.append(np.linalg.norm(poses[name].points - truth, axis=-1).ravel())
    for name in herd.names:
        single = triangulate(herd.true2d[name], herd.rig, config)
        errs_single.append(np.linalg.norm(single.points - herd.truth[name].points, axis=-1).ravel())
    multi = np.concatenate(errs_multi) if errs_multi else np.array([np.nan])
    single = np.concatenate(errs_single)
    return {
        "individuals": n_individuals, "cameras": n_cameras, "frames": n_frames, "tracks": len(result.names),
        "switches": n_switch, "mixed": n_mixed, "uncertain": int(result.uncertain_frames().size),
        "err_multi": float(np.nanmedian(multi)), "err_single": float(np.nanmedian(single)),
        "found_multi": float(np.isfinite(multi).mean()), "found_single": float(np.isfinite(single).mean()),
        "ms_wall": 1e3 * result.seconds_per_frame, "ms_cpu": 1e3 * result.cpu_seconds_per_frame,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 frames instead of 10,000")
    parser.add_argument("--frames", type=int, default=None)
    args = parser.parse_args()
    n_frames = args.frames or (1000 if args.quick else 10_000)
    lines = [f"# Several animals (bench_multi.py, {n_frames} frames, {os.cpu_count()} CPUs, "
             f"{time.strftime('%Y-%m-%d')})", "",
             "| individuals | cameras | tracks | identity switches | per 10k frames | mixed individual-frames | "
             "uncertain frames | 3D median error multi / single (mm) | ratio | points found multi / single | "
             "association ms/frame wall (CPU) |", "|" + "---|" * 11]  # fmt: skip
    for n_ind in (2, 3):
        r = run_scene(n_ind, n_frames, 4, seed=n_ind)
        lines.append(
            f"| {n_ind} | 4 | {r['tracks']} | {r['switches']} | {1e4 * r['switches'] / n_frames:.1f} | {r['mixed']} | "
            f"{r['uncertain']} | {r['err_multi']:.2f} / {r['err_single']:.2f} | {r['err_multi'] / r['err_single']:.3f} "
            f"| {r['found_multi']:.1%} / {r['found_single']:.1%} | {r['ms_wall']:.2f} ({r['ms_cpu']:.2f}) |"
        )
        print(lines[-1], flush=True)
    lines += ["", "Association time against the number of cameras (3 walkers, "
              f"{min(n_frames, 1000)} frames):", "", "| cameras | ms/frame wall | ms/frame CPU | CPU ms per camera |",
              "|---|---|---|---|"]  # fmt: skip
    for n_cam in (3, 4, 6, 8):
        r = run_scene(3, min(n_frames, 1000), n_cam, seed=11)
        lines.append(f"| {n_cam} | {r['ms_wall']:.2f} | {r['ms_cpu']:.2f} | {r['ms_cpu'] / n_cam:.2f} |")
        print(lines[-1], flush=True)
    write_results("\n".join(lines) + "\n", Path(__file__).parent / "results" / "multi.md")


if __name__ == "__main__":
    main()
