"""Project pipeline throughput (serial, 1 and 2 Dask workers) and camera synchronisation accuracy.

Same input for every row: a project of ``--sessions`` generated sample sessions
(4 cameras, ``--frames`` frames at 60 fps, DeepLabCut .h5 files), copied
fresh for each run.

* Full pipeline: the default ``config.toml`` of ``mocap3d new-project``
  (2D median filter, robust triangulation, Butterworth 3D filter, 4 angles, TRC
  export), serially in one process, then on a Dask ``LocalCluster`` of 1 and 2
  worker processes (cluster start-up included: it is part of what a user waits
  for). Outputs of the parallel runs are compared byte for byte with the serial
  run's (3D HDF5, angles CSV, TRC). Then the same on a cluster that is
  already running and has done one project (worker start-up and first imports
  excluded): the cost per batch of a lab's many sessions.
* Re-run of a finished project: every stage checked and skipped.
* Triangulation only, against the peer: per session, aniposelib 0.8.0's
  ``CameraGroup.triangulate`` (DLT with undistortion) + a pandas CSV, in a loop,
  versus ``mocap3d run`` with ``method = "dlt"`` and no filters, angles or exports.
* Synchronisation: offsets drawn in [-20, 20] frames for cameras 2-4 of ``--sync-seeds``
  sample recordings; the epipolar estimator and Pose2Sim's keypoint-speed
  correlation, exact recoveries and the largest error.

Run: ``python benchmarks/bench_pipeline.py`` (defaults: 8 sessions x 300 frames).
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

os.environ.setdefault("JAX_PLATFORMS", "cpu")

TRIANGULATE_ONLY = """\
[project]
fps = 60.0
[triangulation]
method = "dlt"
[export]
formats = []
"""


def _copy(template: Path, dst: Path) -> Path:
    shutil.copytree(template, dst)
    return dst


def _byte_outputs(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.parent.name in ("pose-3d", "pose-3d-filtered", "angles", "exports")}  # fmt: skip


def _timed_run(root: Path, workers: int) -> tuple[float, object]:
    from mocap3d.pipeline import run_project

    t = time.perf_counter()
    report = run_project(root, workers=workers, progress=False)
    return time.perf_counter() - t, report


def _warm_cluster_run(template: Path, dst: Path, workers: int) -> tuple[float, bool]:
    """Seconds of a run on an already started, warmed-up cluster (what each of many batches costs)."""
    from distributed import Client, LocalCluster

    from mocap3d.pipeline import run_project

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as cluster, Client(cluster) as client:  # fmt: skip
        client.run(lambda: __import__("mocap3d.pipeline.stages") and __import__("mocap3d.triangulation.core"))
        warm = _copy(template, dst.with_name(dst.name + "_warmup"))
        run_project(warm, scheduler=cluster.scheduler_address, progress=False)  # first-use imports in the workers
        root = _copy(template, dst)
        t = time.perf_counter()
        report = run_project(root, scheduler=cluster.scheduler_address, progress=False)
        return time.perf_counter() - t, not report.failed


def _aniposelib_triangulate(root: Path) -> int:
    """The peer's per-session job: read the 2D files, DLT-triangulate with aniposelib, write a CSV."""
    import pandas as pd
    from aniposelib.cameras import CameraGroup

    from mocap3d.io.pose2d import load_track2d

    n = 0
    for calib in sorted(root.rglob("calibration.toml")):
        session = calib.parent
        cgroup = CameraGroup.load(str(calib))
        names = cgroup.get_names()
        tracks = [load_track2d(session / "pose-2d" / f"{c}.h5") for c in names]
        pts = np.stack([t.points[:, 0] for t in tracks])  # (C, F, K, 2)
        c, f, k, _ = pts.shape
        p3 = cgroup.triangulate(pts.reshape(c, f * k, 2), undistort=True, progress=False).reshape(f, k, 3)
        cols = {f"{kp}_{ax}": p3[:, j, a] for j, kp in enumerate(tracks[0].keypoints) for a, ax in enumerate("xyz")}
        out = session / "peer" / "pose3d.csv"
        out.parent.mkdir(exist_ok=True)
        pd.DataFrame(cols).to_csv(out, index=False)
        n += 1
    return n


def _sync_table(seeds: int) -> list[str]:
    from mocap3d.pipeline.sync import SyncConfig, epipolar_offsets, keypoint_offsets
    from mocap3d.sample import make_sample

    frames, margin = 300, 20
    errors: dict[str, list[int]] = {"epipolar": [], "keypoints": []}
    seconds: dict[str, float] = {"epipolar": 0.0, "keypoints": 0.0}
    flagged: dict[str, int] = {"epipolar": 0, "keypoints": 0}
    for seed in range(seeds):
        sample = make_sample(n_frames=frames + 2 * margin, seed=seed)
        starts = np.r_[margin, np.random.default_rng(1000 + seed).integers(0, 2 * margin + 1, 3)]
        names = sample.rig.names
        pts = {c: sample.poses2d.points[i, starts[i] : starts[i] + frames] for i, c in enumerate(names)}
        scs = {c: sample.poses2d.scores[i, starts[i] : starts[i] + frames] for i, c in enumerate(names)}
        truth = {c: int(starts[i] - starts[0]) for i, c in enumerate(names)}
        for method in errors:
            cfg = SyncConfig(method=method, max_offset=2 * margin)
            t = time.perf_counter()
            if method == "epipolar":
                res = epipolar_offsets(pts, scs, sample.rig, cfg)
            else:
                res = keypoint_offsets(pts, scs, cfg)
            seconds[method] += time.perf_counter() - t
            errors[method] += [res.offsets[c] - truth[c] for c in names[1:]]
            flagged[method] += sum(res.ambiguous[c] for c in names[1:])
    lines = ["| estimator | cameras | exact | within 1 frame | largest error (frames) | flagged | ms per recording |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for method, errs in errors.items():
        e = np.abs(np.array(errs))
        lines.append(f"| {method} | {len(e)} | {np.mean(e == 0):.0%} | {np.mean(e <= 1):.0%} | {e.max()} | "
                     f"{flagged[method]} | {1000 * seconds[method] / seeds:.0f} |")  # fmt: skip
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--sync-seeds", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None, help="also write the tables to this Markdown file")
    args = parser.parse_args()

    from mocap3d.pipeline.sample_project import make_sample_project

    tmp = Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
    try:
        template = tmp / "template"
        make_sample_project(template, n_sessions=args.sessions, n_frames=args.frames)
        rows = []
        t_serial, rep = _timed_run(_copy(template, tmp / "serial"), 0)
        assert not rep.failed, rep.table()
        reference = _byte_outputs(tmp / "serial")
        rows.append(("full pipeline, serial (one process)", t_serial, "reference"))
        for workers in (1, 2):
            root = _copy(template, tmp / f"dask{workers}")
            t, rep = _timed_run(root, workers)
            same = _byte_outputs(root) == reference
            rows.append((f"full pipeline, Dask LocalCluster, {workers} worker process{'es' if workers > 1 else ''}", t,
                         f"{len(reference)} outputs byte-identical: {same}"))  # fmt: skip
        for workers in (1, 2):
            t, ok = _warm_cluster_run(template, tmp / f"warm{workers}", workers)
            plural = "es" if workers > 1 else ""
            rows.append((f"full pipeline, cluster already running, {workers} worker process{plural}", t,
                         f"start-up excluded; all ok: {ok}"))  # fmt: skip
        t, rep = _timed_run(tmp / "dask2", 2)
        rows.append(("re-run of the finished project (all skipped)", t, rep.scheduler))

        tri = _copy(template, tmp / "tri")
        (tri / "config.toml").write_text(TRIANGULATE_ONLY)
        t0 = time.perf_counter()
        n = _aniposelib_triangulate(_copy(template, tmp / "peer"))
        t_peer = time.perf_counter() - t0
        t_ours, rep = _timed_run(tri, 0)
        tri2 = _copy(template, tmp / "tri2")
        (tri2 / "config.toml").write_text(TRIANGULATE_ONLY)
        t_ours2, _ = _timed_run(tri2, 2)

        lines = [f"# Project pipeline: {args.sessions} sample sessions x {args.frames} frames, 4 cameras", "",
                 "| run | seconds | sessions/min | vs serial | note |", "|---|---|---|---|---|"]  # fmt: skip
        for name, t, note in rows:
            lines.append(f"| {name} | {t:.1f} | {60 * args.sessions / t:.1f} | {t_serial / t:.2f}x | {note} |")
        lines += ["", "Triangulation only (DLT, read 2D + triangulate + write), against the peer:", "",
                  "| run | seconds | sessions/min | ratio |", "|---|---|---|---|",
                  f"| aniposelib 0.8.0 CameraGroup.triangulate, loop over {n} sessions | {t_peer:.1f} | "
                  f"{60 * n / t_peer:.1f} | 1.00x |",
                  f"| mocap3d run, serial | {t_ours:.1f} | {60 * args.sessions / t_ours:.1f} | "
                  f"{t_peer / t_ours:.2f}x |",
                  f"| mocap3d run, 2 Dask workers | {t_ours2:.1f} | {60 * args.sessions / t_ours2:.1f} | "
                  f"{t_peer / t_ours2:.2f}x |",
                  "", f"Synchronisation, {args.sync_seeds} sample recordings, offsets in [-20, 20] frames:",
                  ""]  # fmt: skip
        lines += _sync_table(args.sync_seeds)
        text = "\n".join(lines)
        print(text)
        if args.out:
            args.out.write_text(text + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":  # the Dask LocalCluster starts worker processes
    sys.exit(main())
