"""Calibration benchmark: mocap3d against aniposelib on the same rendered videos, in one run.

A ChArUco board is rendered moving through a known 4-camera rig (1280x1024,
radial and tangential distortion) with mocap3d's renderer. Then:

1. **Whole calibration from the videos**: aniposelib's
   ``CameraGroup.calibrate_videos`` (its own detection, one focal length and k1
   per camera, principal point at the image centre) against mocap3d's
   ``detect_videos`` + ``calibrate``. Reported against the true rig: focal error
   (%), principal point error (px), lens-model RMS over the whole image (px; also
   after the small rotation that best matches the two models, i.e. the lens's
   shape alone, since a principal point offset trades against a camera rotation),
   camera centre error (mm) and rotation error (deg) after a similarity
   alignment, wall time, and ratios.
2. **Bundle adjustment only, identical detections and starting rig**: aniposelib's
   ``bundle_adjust_iter`` (fed the rows its ``calibrate_rows`` would build) against
   mocap3d's ``bundle_adjust``; wall time and the final reprojection error, both
   measured the same way (every corner seen by two or more cameras triangulated
   with the result's cameras, then reprojected).
3. **Real webcams** (caliscope's ``post_optimization`` session, when
   ../shared/datasets is present): mocap3d detects the ChArUco board in the four
   videos and calibrates (intrinsics estimated from the same videos); the board
   corners are triangulated with mocap3d's and with caliscope's calibration, and
   the adjacent-corner distances are compared with the 54 mm squares.

Usage::

    python benchmarks/bench_calibration.py                 # 150 frames, a few minutes on 2 cores
    python benchmarks/bench_calibration.py --frames 60 --workdir /tmp/bench-calib

The table is printed and saved to ``benchmarks/results/calibration.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import time
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from mocap3d.calibration.boards import CharucoBoard
from mocap3d.calibration.bundle import Observations, bundle_adjust
from mocap3d.calibration.config import CalibrationConfig
from mocap3d.calibration.detect import Detections, detect_videos
from mocap3d.calibration.pipeline import calibrate, initial_rig
from mocap3d.calibration.render import render_sample_calibration
from mocap3d.calibration.report import lens_model_rms, rig_errors
from mocap3d.camera import CameraRig
from mocap3d.io.calibration import rig_from_anipose_dict
from mocap3d.triangulation.dlt import triangulate_dlt

RESULTS = Path(__file__).resolve().parent / "results"


def true_rig() -> CameraRig:
    """4 cameras on an arc 2.5 m from the volume's centre, 1280x1024, radial + tangential distortion (mm)."""
    names, rvecs, tvecs, ks, dists = [], [], [], [], []
    for i, azimuth in enumerate(np.deg2rad([-55.0, -18.0, 20.0, 57.0])):
        centre = np.array([2500 * np.sin(azimuth), -2500 * np.cos(azimuth), 400.0 + 150 * i])
        forward = -centre / np.linalg.norm(centre)
        right = np.cross(forward, [0.0, 0.0, -1.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        rot = np.stack([right, down, forward])
        f = 1150.0 + 40 * i
        names.append("ABCD"[i])
        rvecs.append(Rotation.from_matrix(rot).as_rotvec())
        tvecs.append(-rot @ centre)
        ks.append([[f, 0, 640 + 9 - 6 * i], [0, f * 1.0008, 512 - 7 + 5 * i], [0, 0, 1]])
        dists.append([-0.24 + 0.03 * i, 0.11 - 0.01 * i, 0.0011 - 0.0004 * i, -0.0009 + 0.0005 * i, 0.0])
    return CameraRig(names=tuple(names), sizes=[[1280, 1024]] * 4, K=ks, dist=dists, rvec=rvecs, tvec=tvecs)


def board() -> CharucoBoard:
    return CharucoBoard(squares_x=8, squares_y=6, square_length=70.0, marker_length=52.0, dictionary="DICT_4X4_50")


def anipose_board(b: CharucoBoard):
    from aniposelib.boards import CharucoBoard as AniposeCharuco

    return AniposeCharuco(b.squares_x, b.squares_y, b.square_length, b.marker_length, marker_bits=4, dict_size=50)


def anipose_to_rig(cgroup) -> CameraRig:
    dicts = {f"cam_{i}": d for i, d in enumerate(cgroup.get_dicts())}
    return rig_from_anipose_dict(dicts)[0]


def metrics(true: CameraRig, est: CameraRig) -> dict[str, float]:
    err = rig_errors(true, est)
    return {
        "focal error (%)": float(err["focal_pct"].max()),
        "principal point error (px)": float(err["principal_px"].max()),
        "lens model RMS (px)": float(lens_model_rms(true, est).max()),
        "lens shape RMS, best rotation (px)": float(lens_model_rms(true, est, align_rotation=True).max()),
        "camera centre error (mm)": float(err["centre"].max()),
        "rotation error (deg)": float(err["rotation_deg"].max()),
    }


def reprojection_median(rig: CameraRig, det: Detections) -> float:
    """Median error (px) of every corner seen by >= 2 cameras, triangulated with ``rig`` and reprojected."""
    X = triangulate_dlt(rig.extrinsics(), rig.undistort_points(det.corners, output="normalized"))
    err = np.linalg.norm(rig.project(X) - det.corners, axis=-1)
    return float(np.nanmedian(err))


def anipose_rows(det: Detections, cgroup, aboard):
    """The rows aniposelib's calibrate_rows builds, from our detections (same corners, same ids)."""
    all_rows = []
    for c in range(det.n_cameras):
        rows = []
        for f, frame in enumerate(det.frames):
            seen = np.flatnonzero(np.isfinite(det.corners[c, f]).all(-1))
            if len(seen) == 0:
                continue
            rows.append({
                "framenum": (0, int(frame)),
                "corners": det.corners[c, f, seen].reshape(-1, 1, 2).astype(np.float32),
                "ids": seen.reshape(-1, 1).astype(np.int32),
            })
        all_rows.append(aboard.fill_points_rows(rows))
    return all_rows


def run(frames: int, workdir: Path, skip_videos: bool, repeat: int = 3) -> str:
    from aniposelib.boards import extract_points, merge_rows
    from aniposelib.cameras import CameraGroup

    rig = true_rig()
    b = board()
    videos = render_sample_calibration(workdir / "videos", rig, b, n_frames=frames, seed=0)
    lines = [f"# Calibration benchmark: rendered 4-camera rig (1280x1024, radial + tangential), {frames} frames", ""]

    # 1. whole calibration from the videos
    start = time.perf_counter()
    det = detect_videos(b, videos, cache=None, progress=False)
    t_detect = time.perf_counter() - start
    ours, report = calibrate(det, CalibrationConfig())
    t_ours = time.perf_counter() - start
    ours_m = metrics(rig, ours)
    if not skip_videos:
        np.random.seed(0)  # noqa: NPY002 - aniposelib samples points with numpy's global generator
        cgroup = CameraGroup.from_names(list(rig.names))
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # aniposelib prints its progress
            cgroup.calibrate_videos([[str(videos[n])] for n in rig.names], anipose_board(b), verbose=False)
        t_anipose = time.perf_counter() - start
        anipose_m = metrics(rig, anipose_to_rig(cgroup))
        lines += ["## Whole calibration from the videos (detection + solver)", "",
                  "| figure | aniposelib | mocap3d | aniposelib / mocap3d |", "|---|---|---|---|"]
        for key in ours_m:
            lines.append(f"| {key} | {anipose_m[key]:.4g} | {ours_m[key]:.4g} | {anipose_m[key] / ours_m[key]:.1f}x |")
        lines.append(f"| wall time (s) | {t_anipose:.1f} | {t_ours:.1f} (detection {t_detect:.1f}) | "
                     f"{t_anipose / t_ours:.1f}x |")
        lines.append("")
    else:
        lines += ["## mocap3d from the videos", ""] + [f"- {k}: {v:.4g}" for k, v in ours_m.items()]
        lines += [f"- wall time: {t_ours:.1f} s (detection {t_detect:.1f} s)", ""]

    # 2. bundle adjustment only, identical detections and starting rig; best of `repeat` runs each (the machine
    # is shared, so single timings are noisy)
    start_rig, T_world_board, placed = initial_rig(det, CalibrationConfig())
    obs = Observations.from_corners(det.corners[:, placed])
    t_ba = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        ba = bundle_adjust(start_rig, T_world_board[placed], obs, b.object_points())
        t_ba = min(t_ba, time.perf_counter() - start)

    aboard = anipose_board(b)

    def anipose_group():
        group = CameraGroup.from_names(list(rig.names))
        for cam, i in zip(group.cameras, range(rig.n_cameras), strict=True):
            cam.set_size(tuple(int(v) for v in rig.sizes[i]))
            cam.set_camera_matrix(start_rig.K[i].copy())
            cam.set_distortions(start_rig.dist[i].copy())
            cam.set_rotation(start_rig.rvec[i].copy())
            cam.set_translation(start_rig.tvec[i].copy())
        return group

    cgroup = anipose_group()
    rows = anipose_rows(det, cgroup, aboard)
    rows = [aboard.estimate_pose_rows(cam, r) for cam, r in zip(cgroup.cameras, rows, strict=True)]
    merged = merge_rows([[r for r in rs if r["ids"].size >= 8] for rs in rows])
    imgp, extra = extract_points(merged, aboard, min_cameras=2)
    t_anipose_ba = np.inf
    for _ in range(repeat):
        cgroup = anipose_group()  # bundle_adjust_iter changes the cameras in place
        np.random.seed(0)  # noqa: NPY002
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            cgroup.bundle_adjust_iter(imgp, extra, verbose=False)
        t_anipose_ba = min(t_anipose_ba, time.perf_counter() - start)
    anipose_ba = anipose_to_rig(cgroup)
    e_start = reprojection_median(start_rig, det)
    e_ours = reprojection_median(ba.rig, det)
    e_anipose = reprojection_median(anipose_ba, det)
    lines += ["## Bundle adjustment only (identical detections and starting cameras)", "",
              f"{len(obs)} corner observations, {int(placed.sum())} board placements; starting reprojection median "
              f"{e_start:.3f} px.", "",
              f"Wall times are the best of {repeat} runs each.", "",
              "| figure | aniposelib bundle_adjust_iter | mocap3d bundle_adjust | ratio |", "|---|---|---|---|",
              f"| wall time (s) | {t_anipose_ba:.2f} | {t_ba:.2f} | {t_anipose_ba / t_ba:.1f}x faster |",
              f"| final reprojection median (px) | {e_anipose:.3f} | {e_ours:.3f} | {e_anipose / e_ours:.2f} |",
              f"| camera centre error (mm) | {metrics(rig, anipose_ba)['camera centre error (mm)']:.3f} | "
              f"{metrics(rig, ba.rig)['camera centre error (mm)']:.3f} | |",
              ""]
    lines.append(f"mocap3d per camera:\n\n```\n{report.table()}\n```")
    return "\n".join(lines) + "\n"


def caliscope_section(datasets: Path) -> list[str]:
    session = datasets / "caliscope" / "tests" / "sessions" / "post_optimization"
    if not session.is_dir():
        return [f"(caliscope session not found under {datasets}; section skipped)", ""]
    from mocap3d.calibration.detect import SamplingConfig
    from mocap3d.io.calibration import load_calibration

    b = CharucoBoard(4, 5, 54.0, 40.5, "DICT_4X4_1000", inverted=True)
    videos = {str(i): session / "calibration" / "extrinsic" / f"cam_{i}.mp4" for i in range(4)}
    start = time.perf_counter()
    det = detect_videos(b, videos, sample=SamplingConfig(step=1), cache=None, progress=False)
    t_detect = time.perf_counter() - start
    ours, _ = calibrate(det, CalibrationConfig())
    t_total = time.perf_counter() - start
    theirs = load_calibration(session / "camera_array.toml")
    theirs = theirs.replace(tvec=theirs.tvec * 1000)  # metres -> the board's mm

    def geometry(rig: CameraRig) -> tuple[float, float]:
        X = triangulate_dlt(rig.extrinsics(), rig.undistort_points(det.corners, output="normalized"))
        pairs = b.adjacent_pairs()
        d = np.linalg.norm(X[:, pairs[:, 0]] - X[:, pairs[:, 1]], axis=-1)
        err = np.linalg.norm(rig.project(X) - det.corners, axis=-1)
        return float(np.nanmedian(np.abs(d - b.square_length))), float(np.nanmedian(err))

    g_ours, g_theirs = geometry(ours), geometry(theirs)
    return [
        "## Real webcams: caliscope post_optimization videos (mocap3d detection, intrinsics from the same videos)", "",
        f"{int(det.detected.any(-1).sum())} camera views of the board; detection {t_detect:.1f} s, total "
        f"{t_total:.1f} s. Board corners triangulated (DLT) from mocap3d's detections with each calibration:", "",
        "| calibration | board geometry error, median (mm) | reprojection median (px) |", "|---|---|---|",
        f"| caliscope camera_array.toml | {g_theirs[0]:.3f} | {g_theirs[1]:.3f} |",
        f"| mocap3d | {g_ours[0]:.3f} | {g_ours[1]:.3f} |", "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150, help="rendered frames (30 fps)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mocap3d-bench-calibration"),
                        help="where the rendered videos are kept (re-used when up to date)")
    parser.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets",
                        help="external reference data (for the caliscope section)")
    parser.add_argument("--repeat", type=int, default=3, help="bundle-adjustment timings: best of this many runs")
    parser.add_argument("--skip-aniposelib-videos", action="store_true",
                        help="skip aniposelib's whole-video calibration (keep the bundle-adjustment comparison)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    table = run(args.frames, args.workdir, args.skip_aniposelib_videos, args.repeat)
    table += "\n" + "\n".join(caliscope_section(args.datasets))
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "calibration.md").write_text(table)


if __name__ == "__main__":
    main()
