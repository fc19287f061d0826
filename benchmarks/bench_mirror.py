"""Mirror rig benchmark: one camera plus a mirror against two real cameras of the same geometry.

The sample (``mocap3d.calibration.mirror_sample``): one 800x600 camera with a
mild, realistic lens (k1 -0.12, k2 0.05, small tangential terms) films a
ChArUco board (6x5 squares of 30 mm) in a mirror box: the direct view is the
left 480 px of the frame, a flat mirror at the side fills the right 320 px and
shows the volume from about 57 degrees away (the camera reflected in the
mirror, 1.1 m from the volume). The mirror's principal point lies 76 px
outside its box (a crop keeps the lens's optical centre where it is).

What "two real cameras of the same geometry" means here: the real camera and a
second real camera at the reflected pose with the same lens, each with its
whole 800x600 sensor. They are the views' cameras exactly (same poses, lens
terms and pixel coordinates; the views are crops of them), filmed with the same
board path and encoded once each like the mirror-box video. So the comparison
asks what the mirror costs: half the pixels per view (a crop with its
principal point outside), one recording, compositing and splitting.

Steps, each rig calibrated with ``calibrate_videos`` (mocap3d's detection +
calibration, nothing known in advance):

1. render the mirror-box video and the two cameras' videos;
2. ``split_video`` (``mocap3d split-views``) cuts the mirror-box video into its
   two views (lossless FFV1, so splitting adds no compression loss);
3. calibrate the two views, and the two full-frame cameras;
4. aniposelib's ``CameraGroup.calibrate_videos`` on the same two view videos
   (its model: one focal length, k1, principal point at the image centre);
5. the sample walker (``mocap3d.sample.walk``, scaled to 18 cm and placed in
   the box's volume) is projected through the TRUE view cameras, the same
   Gaussian noise is added for every rig, and each calibrated rig (and the true
   cameras, as the floor) triangulates it (DLT on undistorted points). The 3D
   error is measured in the first camera's frame (the calibration's world;
   nothing aligned) and after the rigid motion that best aligns the result with
   the truth (the world's choice removed; scale and shape errors kept).

Usage::

    nice -n 10 python benchmarks/bench_mirror.py                  # 150 frames, about a minute on 2 cores
    python benchmarks/bench_mirror.py --frames 80 --skip-aniposelib

The table is printed and saved to ``benchmarks/results/mirror.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import time
from pathlib import Path

import numpy as np
import toml
from _common import write_results

from mocap3d.calibration.boards import CharucoBoard, board_to_toml
from mocap3d.calibration.config import CalibrationConfig
from mocap3d.calibration.mirror_sample import make_mirror_box, render_mirror_sample
from mocap3d.calibration.pipeline import calibrate_videos
from mocap3d.calibration.report import rig_errors, umeyama
from mocap3d.camera import CameraRig
from mocap3d.mirror import load_layout, split_video
from mocap3d.sample import walk
from mocap3d.triangulation.dlt import triangulate_dlt

RESULTS = Path(__file__).resolve().parent / "results"


def board() -> CharucoBoard:
    return CharucoBoard(squares_x=6, squares_y=5, square_length=30.0, marker_length=22.0, dictionary="DICT_4X4_50")


def walker_in_box(target: np.ndarray, n_frames: int) -> np.ndarray:
    """The sample walker ``(F, 19, 3)`` scaled by 0.1 (18 cm tall), walking across the box's volume at ``target``.

    Walker axes (x forward, y left, z up) -> box world (x right, z away from the camera, y down).
    """
    points, _, _ = walk(n_frames=n_frames, speed=400.0)
    points = 0.1 * points
    points -= points.reshape(-1, 3).mean(0)
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], -1) + target


def triangulation_errors(rig: CameraRig, truth_rig: CameraRig, obs: np.ndarray, X: np.ndarray) -> dict[str, float]:
    """3D errors (mm) of the walker triangulated with ``rig`` from observations ``(V, F, K, 2)``.

    ``raw``: in the first camera's frame of each rig (the calibration's world);
    ``aligned``: after the best rigid motion (no scale) onto the truth.
    """
    found = triangulate_dlt(rig.extrinsics(), rig.undistort_points(obs, output="normalized"))
    ok = np.isfinite(found).all(-1)
    cam0 = rig.world_to_camera(found[ok])[0]
    true0 = truth_rig.world_to_camera(X[ok])[0]
    raw = np.linalg.norm(cam0 - true0, axis=-1)
    _, r, t = umeyama(found[ok], X[ok], with_scale=False)
    aligned = np.linalg.norm(found[ok] @ r.T + t - X[ok], axis=-1)
    return {"median": float(np.median(raw)), "p90": float(np.percentile(raw, 90)),
            "aligned median": float(np.median(aligned)), "aligned p90": float(np.percentile(aligned, 90)),
            "points": int(ok.sum())}


def anipose_board(b: CharucoBoard):
    from aniposelib.boards import CharucoBoard as AniposeCharuco

    return AniposeCharuco(b.squares_x, b.squares_y, b.square_length, b.marker_length, marker_bits=4, dict_size=50)


def anipose_calibrate(videos: list[Path], names: list[str], b: CharucoBoard) -> tuple[CameraRig | None, str, float]:
    """aniposelib's whole calibration from the videos: (rig or None, what happened, seconds)."""
    from aniposelib.cameras import CameraGroup

    from mocap3d.io.calibration import rig_from_anipose_dict

    np.random.seed(0)  # noqa: NPY002 - aniposelib samples with numpy's global generator
    group = CameraGroup.from_names(names)
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # aniposelib prints its progress
            error, _ = group.calibrate_videos([[str(v)] for v in videos], anipose_board(b), verbose=False)
    except Exception as exc:  # noqa: BLE001 - report whatever stops the peer
        return None, f"failed: {type(exc).__name__}: {exc}", time.perf_counter() - start
    seconds = time.perf_counter() - start
    rig = rig_from_anipose_dict({f"cam_{i}": d for i, d in enumerate(group.get_dicts())})[0]
    return rig.replace(names=tuple(names)), f"reprojection error {error:.3f} px", seconds


def run(frames: int, workdir: Path, noise_px: float, skip_anipose: bool) -> str:
    box = make_mirror_box()
    b = board()
    truth = box.view_rig()
    start = time.perf_counter()
    sample = render_mirror_sample(workdir / "sample", box, b, n_frames=frames, seed=0, progress=False)
    t_render = time.perf_counter() - start
    board_path = workdir / "board.toml"
    board_path.write_text(toml.dumps(board_to_toml(b)))
    start = time.perf_counter()
    views = split_video(sample["video"], load_layout(sample["layout"]), workdir / "views", overwrite=True,
                        progress=False)
    t_split = time.perf_counter() - start

    rigs: dict[str, CameraRig] = {"true view cameras": truth}
    timing: dict[str, float] = {}
    notes: dict[str, str] = {}
    for label, videos in (("mirror rig (mocap3d)", list(views.values())),
                          ("two real cameras (mocap3d)", [sample[f"two_cameras/{n}"] for n in truth.names])):
        out = workdir / f"{label.split()[0]}.toml"
        cache = out.with_name(out.stem + "_detections.npz")
        cache.unlink(missing_ok=True)  # time the detection too
        start = time.perf_counter()
        rig, report, _ = calibrate_videos(board_path, videos, out, CalibrationConfig(), cache=cache, pictures=False,
                                          progress=False)
        timing[label] = time.perf_counter() - start
        rigs[label] = rig.select(truth.names)
        notes[label] = f"reprojection median {report.median_px:.3f} px"
    if not skip_anipose:
        for label, videos in (("mirror rig (aniposelib)", list(views.values())),
                              ("two real cameras (aniposelib)",
                               [sample[f"two_cameras/{n}"] for n in truth.names])):
            rig, what, seconds = anipose_calibrate(videos, list(truth.names), b)
            notes[label] = what
            timing[label] = seconds
            if rig is not None:
                rigs[label] = rig

    X = walker_in_box(box.target, 200)
    true_obs = truth.project(X)
    rng = np.random.default_rng(1)
    obs = true_obs + rng.normal(0.0, noise_px, true_obs.shape)
    obs[~truth.in_image(true_obs)] = np.nan  # outside a view's box: not seen in that view
    exact = np.where(np.isfinite(obs), true_obs, np.nan)
    results = {label: triangulation_errors(rig, truth, obs, X) for label, rig in rigs.items()}
    exact_results = {label: triangulation_errors(rig, truth, exact, X) for label, rig in rigs.items()}

    lines = [f"# Mirror rig: one camera + a mirror against two real cameras of the same geometry ({frames} frames)",
             "",
             f"Rendering {t_render:.1f} s (0 when an earlier run's videos were reused); splitting the mirror-box "
             f"video into its views {t_split:.1f} s. "
             f"Walker: {X.shape[0]} frames x {X.shape[1]} keypoints, projected through the true view cameras, "
             f"Gaussian noise {noise_px} px, DLT. 3D errors in mm (the walker is 18 cm tall, ~1 m away).", "",
             "| rig | 3D median | 3D p90 | aligned median | aligned p90 | noise-free aligned median | "
             "focal error (%) | principal point error (px) | calibration (s) | note |", "|---" * 10 + "|"]
    for label, res in results.items():
        if label in timing:
            err = rig_errors(truth, rigs[label])
            intr = (f"{', '.join(f'{v:.2f}' for v in err['focal_pct'])} | "
                    f"{', '.join(f'{v:.1f}' for v in err['principal_px'])} | {timing[label]:.1f}")
        else:
            intr = "- | - | -"
        lines.append(f"| {label} | {res['median']:.3f} | {res['p90']:.3f} | {res['aligned median']:.3f} | "
                     f"{res['aligned p90']:.3f} | {exact_results[label]['aligned median']:.3f} | {intr} | "
                     f"{notes.get(label, '')} |")
    for label in notes:
        if label not in results:
            lines.append(f"| {label} | - | - | - | - | - | - | - | {timing[label]:.1f} | {notes[label]} |")
    lines.append("")
    mirror, two = results["mirror rig (mocap3d)"], results["two real cameras (mocap3d)"]
    floor = results["true view cameras"]
    e_mirror = exact_results["mirror rig (mocap3d)"]["aligned median"]
    e_two = exact_results["two real cameras (mocap3d)"]["aligned median"]
    lines += ["Ratios (median 3D error):", "",
              f"- mirror rig / two real cameras: {mirror['median'] / two['median']:.2f} "
              f"(aligned {mirror['aligned median'] / two['aligned median']:.2f})",
              f"- mirror rig / true cameras: {mirror['median'] / floor['median']:.2f} "
              f"(aligned {mirror['aligned median'] / floor['aligned median']:.2f})",
              f"- two real cameras / true cameras: {two['median'] / floor['median']:.2f}",
              f"- noise-free (calibration error alone), mirror rig / two real cameras: {e_mirror:.3f} / {e_two:.3f} mm "
              f"= {e_mirror / e_two:.2f}"]
    if "mirror rig (aniposelib)" in results:
        ani = results["mirror rig (aniposelib)"]
        lines.append(f"- aniposelib mirror rig / mocap3d mirror rig: {ani['median'] / mirror['median']:.2f} "
                     f"(aligned {ani['aligned median'] / mirror['aligned median']:.2f})")
    lines += ["", "3D median/p90: in the first camera's frame (the calibration's world), nothing aligned; aligned: "
              "after the best rigid motion onto the truth; noise-free: the exact projections triangulated, i.e. "
              "the calibration's own error. Focal and principal point errors are per view (direct, mirror) "
              "against the true view cameras."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150, help="rendered frames (30 fps)")
    parser.add_argument("--noise", type=float, default=0.5, help="2D noise added to the walker's projections (px)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mocap3d-bench-mirror"),
                        help="where the rendered videos are kept (re-used when up to date)")
    parser.add_argument("--skip-aniposelib", action="store_true", help="skip aniposelib's calibrations")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    write_results(run(args.frames, args.workdir, args.noise, args.skip_aniposelib), RESULTS / "mirror.md")


if __name__ == "__main__":
    main()
