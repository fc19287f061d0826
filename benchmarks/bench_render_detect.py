"""Renderer speed and detection accuracy against ground truth, and agreement with caliscope's real detections.

Renders a ChArUco board sweeping through a 4-camera 1280x1024 rig with radial and
tangential distortion (``--frames`` per camera), detects it with
``detect_videos``, and compares every detected corner with the exact projection
of the board corner. With ``--caliscope``, also detects the board in caliscope's
real webcam videos and compares with the detections stored there.

    python benchmarks/bench_render_detect.py                # mp4v, 150 frames
    python benchmarks/bench_render_detect.py --codec FFV1   # lossless
    python benchmarks/bench_render_detect.py --caliscope ../shared/datasets/caliscope

There is no peer renderer or detector to run side by side: aniposelib has no
renderer and its ChArUco detection is OpenCV's (the same as mocap3d's default),
so the table reports absolute figures against the known answer instead of ratios.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from mocap3d.calibration.boards import CharucoBoard, load_board
from mocap3d.calibration.detect import SamplingConfig, detect_videos
from mocap3d.calibration.render import (
    RenderConfig,
    board_trajectory,
    load_ground_truth,
    render_board_videos,
)
from mocap3d.camera import CameraRig, rotation_to_rodrigues


def bench_rig() -> CameraRig:
    """Four 1280x1024 cameras on a 120 degree arc, 2.5 m from the volume, each with its own lens."""
    rots, tvecs = [], []
    for i, a in enumerate(np.deg2rad(np.linspace(-60, 60, 4))):
        center = np.array([2500 * np.sin(a), -2500 * np.cos(a), 300.0 + 100 * i])
        z = -center / np.linalg.norm(center)
        x = np.cross(z, [0.0, 0.0, -1.0])
        x /= np.linalg.norm(x)
        r = np.stack([x, np.cross(z, x), z])
        rots.append(r)
        tvecs.append(-r @ center)
    k = [[[1100.0 + 60 * i, 0, 651 - 7 * i], [0, (1100.0 + 60 * i) * 1.001, 503 + 5 * i], [0, 0, 1]] for i in range(4)]
    dist = [[-0.21 + 0.02 * i, 0.09, 0.0012, -0.0008, 0.0] for i in range(4)]
    return CameraRig(names=("A", "B", "C", "D"), sizes=[[1280, 1024]] * 4, K=k, dist=dist,
                     rvec=rotation_to_rodrigues(np.array(rots)), tvec=np.array(tvecs))


def rendered(frames: int, codec: str) -> None:
    rig = bench_rig()
    board = CharucoBoard(7, 5, 60.0, 45.0, "DICT_4X4_50")
    poses = board_trajectory(rig, board, frames, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        paths = render_board_videos(rig, board, poses, tmp, config=RenderConfig(codec=codec), progress=False)
        render_wall, render_cpu = time.perf_counter() - wall, time.process_time() - cpu
        wall = time.perf_counter()
        det = detect_videos(board, paths, sample=SamplingConfig(step=1), progress=False)
        detect_wall = time.perf_counter() - wall
        truth = load_ground_truth(tmp)
    diff = det.corners - truth["corners"][:, det.frames]
    err = np.linalg.norm(diff, axis=-1)
    ok = np.isfinite(err)
    print(f"rendered rig: 4 cameras x 1280x1024 x {frames} frames, codec {codec}")
    print("| measure | value |\n|---|---|")
    print(f"| render wall time (s) | {render_wall:.1f} |")
    print(f"| render CPU time, all threads (s) | {render_cpu:.1f} |")
    print(f"| detection wall time, every frame (s) | {detect_wall:.1f} |")
    print(f"| corners detected / visible in truth | {ok.sum()} / {truth['visible'].sum()} |")
    print(f"| corner error median / p90 / p99 (px) | {np.median(err[ok]):.3f} / {np.percentile(err[ok], 90):.3f}"
          f" / {np.percentile(err[ok], 99):.3f} |")
    print(f"| mean error vector (px) | {np.nanmean(diff[..., 0]):+.4f}, {np.nanmean(diff[..., 1]):+.4f} |")


def caliscope(root: Path) -> None:
    import pandas as pd

    session = root / "tests/sessions/post_optimization"
    ext = session / "calibration/extrinsic"
    board = load_board(session / "charuco.toml")
    wall = time.perf_counter()
    det = detect_videos(board, {f"cam_{c}": ext / f"cam_{c}.mp4" for c in range(4)},
                        sample=SamplingConfig(step=1), progress=False)
    wall = time.perf_counter() - wall
    stamps = pd.read_csv(ext / "timestamps.csv")
    ref = pd.read_csv(ext / "CHARUCO/xy_CHARUCO.csv")
    diffs, n_ref = [], 0
    for c in range(4):
        sync = stamps.loc[stamps.cam_id == c, "sync_index"].to_numpy()
        rows = ref[ref.cam_id == c]
        n_ref += len(rows)
        for j, frame in enumerate(det.frames):
            r = rows[rows.sync_index == sync[frame]]
            ours = det.corners[c, j, r.keypoint_id.to_numpy()]
            good = np.isfinite(ours).all(1)
            diffs.append(np.linalg.norm(ours[good] - r[["img_loc_x", "img_loc_y"]].to_numpy()[good], axis=1))
    d = np.concatenate(diffs)
    print("\ncaliscope post_optimization (4 real webcams, inverted 4x5 ChArUco, every frame)")
    print("| measure | value |\n|---|---|")
    print(f"| detection wall time (s) | {wall:.1f} |")
    print(f"| corners: ours / caliscope's / matched | {int(det.detected.sum())} / {n_ref} / {d.size} |")
    print(f"| difference median / p90 (px) | {np.median(d):.3f} / {np.percentile(d, 90):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--codec", default="mp4v", choices=["mp4v", "FFV1", "MJPG"])
    parser.add_argument("--caliscope", type=Path, default=None, help="path to the caliscope dataset folder")
    args = parser.parse_args()
    rendered(args.frames, args.codec)
    if args.caliscope is not None:
        caliscope(args.caliscope)


if __name__ == "__main__":
    main()
