"""anipose compatibility: how closely mocap3d's anipose mode reproduces anipose 1.1.24 / aniposelib 0.8.0.

Usage::

    python benchmarks/bench_anipose.py            # the sample walk, 300 frames x 19 body parts x 4 cameras
    python benchmarks/bench_anipose.py --quick    # 60 frames

Prints a Markdown table and writes it to benchmarks/results/anipose.md.

What is measured (same 2D input, observations below anipose's score
threshold 0.8 dropped for every method):

* ``--preset anipose`` against aniposelib's ``CameraGroup.triangulate``:
  largest 3D difference (mm) and largest relative difference of the
  reprojection error; the points' NaN pattern must be identical.
* mocap3d's own DLT (score-weighted, undistorted pixels, ``--method dlt``)
  against aniposelib: median and largest 3D difference (mm): what the
  anipose preset was before it became aniposelib's formulation.
* anipose's ``project-2d`` code reading an aligned CSV written by mocap3d
  (``axes``/``reference_point`` frame, both conventions): largest distance (px)
  from the projection of the unaligned points.
* anipose's ``triangulate`` on an anipose project (2 sessions x 3 trials,
  3 cameras) against ``mocap3d run`` on the same folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import write_results

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import pandas as pd
    from _anipose_helpers import make_anipose_project
    from anipose import project_2d
    from anipose import triangulate as ani_triangulate
    from anipose.anipose import load_config as anipose_load_config
    from aniposelib.cameras import CameraGroup

    from mocap3d.analysis.alignment import align_poses
    from mocap3d.io.calibration import save_calibration
    from mocap3d.io.pose3d import save_anipose_csv
    from mocap3d.pipeline.runner import run_project
    from mocap3d.sample import make_sample
    from mocap3d.triangulation import triangulate
    from mocap3d.triangulation.config import TriangulationConfig

    frames = 60 if args.quick else 300
    sample = make_sample(n_frames=frames, n_cameras=4, seed=0)
    rows = [f"sample walk: {frames} frames x {len(sample.poses2d.keypoints)} body parts x 4 cameras, "
            "score threshold 0.8", "", "| comparison | measure | value |", "|---|---|---|"]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        save_calibration(sample.rig, tmp_path / "calibration.toml")
        cgroup = CameraGroup.load(str(tmp_path / "calibration.toml"))
        t = time.perf_counter()
        ours = triangulate(sample.poses2d, sample.rig, TriangulationConfig.from_dict({"preset": "anipose"}))
        t_ours = time.perf_counter() - t
        pts = sample.poses2d.points.copy()
        pts[sample.poses2d.scores < 0.8] = np.nan
        v, f, k, _ = pts.shape
        cgroup.triangulate(pts.reshape(v, -1, 2))  # JAX compiles on the first call
        t = time.perf_counter()
        theirs = cgroup.triangulate(pts.reshape(v, -1, 2)).reshape(f, k, 3)
        t_theirs = time.perf_counter() - t
        assert (np.isnan(theirs) == np.isnan(ours.points)).all()
        err = cgroup.reprojection_error(theirs.reshape(-1, 3), pts.reshape(v, -1, 2), mean=True).reshape(f, k)
        ok = np.isfinite(err)
        rows.append(f"| `--preset anipose` vs aniposelib | largest 3D difference | "
                    f"{np.nanmax(np.abs(ours.points - theirs)):.1e} mm |")  # fmt: skip
        rows.append(f"| `--preset anipose` vs aniposelib | largest relative error difference | "
                    f"{np.max(np.abs(ours.error[ok] - err[ok]) / np.maximum(err[ok], 1e-12)):.1e} |")  # fmt: skip
        rows.append(f"| `--preset anipose` vs aniposelib | points triangulated / NaN pattern | "
                    f"{np.isfinite(theirs[..., 0]).mean():.1%} / identical |")  # fmt: skip
        rows.append(f"| `--preset anipose` vs aniposelib | time (warm) | {t_ours * 1e3:.0f} ms vs "
                    f"{t_theirs * 1e3:.0f} ms |")  # fmt: skip
        own = triangulate(sample.poses2d, sample.rig, TriangulationConfig(method="dlt", score_threshold=0.8))
        d = np.linalg.norm(own.points - theirs, axis=-1)
        rows.append(f"| mocap3d `--method dlt` (weighted, pixels) vs aniposelib | median / largest 3D difference | "
                    f"{np.nanmedian(d):.2f} mm / {np.nanmax(d):.1f} mm |")  # fmt: skip
        for convention in ("mocap3d", "anipose"):
            aligned = align_poses(ours, [["x", "r_hip", "l_hip"], ["z", "pelvis", "neck"]], "pelvis",
                                  convention=convention)  # fmt: skip
            path = save_anipose_csv(aligned, tmp_path / f"aligned-{convention}.csv")
            _, proj, _ = project_2d.get_projected_points({"triangulation": {"optim": False}}, str(path), cgroup,
                                                         {n: (0, 0) for n in cgroup.get_names()})  # fmt: skip
            truth = cgroup.project(ours.points.transpose(1, 0, 2).reshape(-1, 3)).reshape(proj.shape)
            # where the point projects into the image (elsewhere the lens polynomial magnifies float64 rounding)
            inside = (np.abs(truth) < 2000).all(-1)
            dist = np.linalg.norm(proj - truth, axis=-1)
            rows.append(f"| anipose project-2d on our aligned CSV ({convention} frame) | largest distance in the "
                        f"image / relative outside | {np.nanmax(dist[inside]):.1e} px / "
                        f"{np.nanmax(dist / np.linalg.norm(truth, axis=-1)):.1e} |")  # fmt: skip
        project = make_anipose_project(tmp_path / "ours", frames=20 if args.quick else 100, align=True)
        theirs_root = tmp_path / "theirs"
        shutil.copytree(project, theirs_root)
        t = time.perf_counter()
        run_project(project, workers=0, progress=False)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        ani_triangulate.triangulate_all(anipose_load_config(str(theirs_root / "config.toml")))
        t_theirs = time.perf_counter() - t
        worst, files = 0.0, 0
        for a_path in sorted(project.glob("*/pose-3d/*.csv")):
            a = pd.read_csv(a_path)
            b = pd.read_csv(theirs_root / a_path.relative_to(project))
            assert list(a.columns) == list(b.columns) and (a.isna().to_numpy() == b.isna().to_numpy()).all()
            xyz = [c for c in a.columns if c[-2:] in ("_x", "_y", "_z")]
            worst = max(worst, float(np.nanmax(np.abs(a[xyz].to_numpy() - b[xyz].to_numpy()))))
            files += 1
        rows.append(f"| `mocap3d run` vs `anipose triangulate` on an anipose project | {files} CSVs, same columns "
                    f"and NaN; largest 3D difference | {worst:.1e} mm ({t_ours:.1f} s vs {t_theirs:.1f} s) |")
    write_results("\n".join(rows) + "\n", Path(__file__).parent / "results" / "anipose.md")


if __name__ == "__main__":
    main()
