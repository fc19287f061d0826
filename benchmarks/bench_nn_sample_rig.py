"""End to end on the sample rig: render the walker in every camera, train one network, analyse, triangulate.

Usage::

    nice -n 10 python benchmarks/bench_nn_sample_rig.py               # 4 cameras x 300 frames, 10-minute budget
    python benchmarks/bench_nn_sample_rig.py --minutes 3 --frames 120  # smaller

The sample rig's walker (``mocap3d.sample``: 19 keypoints, 4 cameras 1280x1024
with lens distortion) is drawn into each camera's images through the rig's
lenses: limbs as grey strokes and each keypoint as a disc of its own colour
(left and right differ) on a textured floor, sizes shrinking with depth. One
network (the ``scratch`` preset) is trained on at most 200 labelled frames
taken across all views (the projected truth as labels), every frame of every
view is analysed, the 2D results are triangulated with ``--method robust`` and
compared with the 3D truth. Prints 2D errors per view and the 3D error.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from mocap3d.nn.config import preset
from mocap3d.nn.dataset import TrainingSet
from mocap3d.nn.evaluate import colours, predict_images
from mocap3d.nn.predict import Predictor
from mocap3d.nn.train import load_model, train
from mocap3d.poses import Poses2D
from mocap3d.sample import make_sample
from mocap3d.triangulation import TriangulationConfig, triangulate


def render(sample, seed: int = 0) -> list[list[np.ndarray]]:
    """RGB frames ``[view][frame]`` of the walker seen through each camera."""
    rig, pts3d = sample.rig, sample.truth.points
    proj = rig.project(pts3d)  # (V, F, K, 2) with the lens
    depth = rig.depths(pts3d)  # (V, F, K)
    index = {k: i for i, k in enumerate(sample.truth.keypoints)}
    cols = colours(len(index))
    rng = np.random.default_rng(seed)
    out = []
    for v in range(len(rig.names)):
        w, h = (int(x) for x in rig.sizes[v])
        floor = cv2.GaussianBlur(rng.integers(70, 150, (h // 8, w // 8, 3)).astype(np.uint8), (0, 0), 1.0)
        floor = cv2.resize(floor, (w, h), interpolation=cv2.INTER_LINEAR)
        f_px = rig.K[v, 0, 0]
        frames = []
        for f in range(pts3d.shape[0]):  # drawing is per frame (OpenCV primitives), not a hot numerical path
            img = floor.copy()
            scale = f_px / np.maximum(depth[v, f], 1.0)  # px per mm
            for a, b in sample.edges:
                pa, pb = proj[v, f, index[a]], proj[v, f, index[b]]
                width = max(2, int(round(60 * scale[index[a]])))
                cv2.line(img, tuple(int(round(x * 4)) for x in pa), tuple(int(round(x * 4)) for x in pb),
                         (200, 190, 180), width, cv2.LINE_AA, 2)
            for k in np.argsort(-depth[v, f]):  # far to near
                r = max(3, int(round(35 * scale[k])))
                cv2.circle(img, tuple(int(round(x * 16)) for x in proj[v, f, k]), r * 16,
                           tuple(int(c) for c in cols[k]), -1, cv2.LINE_AA, 4)
            frames.append(img)
        out.append(frames)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--labelled", type=int, default=200, help="labelled frames across all views")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backend", default="onnx")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sample = make_sample(n_frames=args.frames, noise_px=0.0, outlier_fraction=0.0, occlusion=False)
    rig, keypoints = sample.rig, sample.truth.keypoints
    t0 = time.perf_counter()
    frames = render(sample)
    size = "x".join(str(int(x)) for x in rig.sizes[0])
    print(f"rendered {len(rig.names)} x {args.frames} frames of {size} in {time.perf_counter() - t0:.0f} s")
    truth2d = rig.project(sample.truth.points)  # (V, F, K, 2)
    visible = rig.in_image(truth2d) & (rig.depths(sample.truth.points) > 0)
    labels = np.where(visible[..., None], truth2d, np.nan)
    n_views = len(rig.names)
    per_view = args.labelled // n_views
    picks = [(v, f) for v in range(n_views) for f in np.linspace(0, args.frames - 1, per_view).round().astype(int)]
    data = TrainingSet(tuple(f"{rig.names[v]}/{f}" for v, f in picks), [frames[v][f] for v, f in picks],
                       np.stack([labels[v, f] for v, f in picks]), keypoints)
    cfg = preset("scratch")
    cfg = cfg.replace(train=cfg.train.replace(threads=args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        probe = 30
        cfg = cfg.replace(train=cfg.train.replace(iterations=10**6))
        t0 = time.perf_counter()
        train(data, cfg, tmp, stop_after=probe, progress=False)
        per_iter = (time.perf_counter() - t0) / probe
        cfg = cfg.replace(train=cfg.train.replace(iterations=max(probe + 50, int(args.minutes * 60 / per_iter))))
        result = train(data, cfg, tmp)
        minutes = (time.perf_counter() - t0) / 60
        model, info = load_model(result.model_path)
        predictor = Predictor(model, info.config.model)
        if args.backend == "onnx":
            from mocap3d.nn.predict import export_onnx

            path = export_onnx(model, Path(tmp) / "m.onnx", tuple(int(x) for x in rig.sizes[0]))
            predictor = Predictor(None, info.config.model, backend="onnx", onnx_path=path, threads=args.threads)
        t0 = time.perf_counter()
        pred = np.empty(truth2d.shape)
        score = np.empty(truth2d.shape[:-1])
        for v in range(n_views):
            pred[v], score[v] = predict_images(predictor, frames[v], batch_size=16)
        analyse_s = time.perf_counter() - t0
    err2d = np.linalg.norm(pred - truth2d, axis=-1)
    labelled = np.zeros(err2d.shape, bool)
    for v, f in picks:
        labelled[v, f] = True
    print(f"trained {result.iterations} iterations on {len(data)} labelled frames in {minutes:.1f} min; "
          f"analysed {pred.shape[0] * pred.shape[1]} frames in {analyse_s:.0f} s")
    for v, name in enumerate(rig.names):
        e = err2d[v][visible[v] & ~labelled[v]]
        print(f"  2D {name}: median {np.median(e):.2f} px, mean {e.mean():.2f} px, "
              f"95th pct {np.percentile(e, 95):.2f} px (frames not labelled)")
    poses2d = Poses2D(views=rig.names, keypoints=keypoints, points=pred, scores=score, fps=sample.fps)
    poses3d = triangulate(poses2d, rig, TriangulationConfig(method="robust"))
    err3d = np.linalg.norm(poses3d.points - sample.truth.points, axis=-1)
    ok = np.isfinite(err3d)
    print(f"3D (robust triangulation of all views): {ok.mean():.1%} triangulated, error median "
          f"{np.median(err3d[ok]):.1f} mm, mean {err3d[ok].mean():.1f} mm, "
          f"95th pct {np.percentile(err3d[ok], 95):.1f} mm")
    exact = Poses2D(views=rig.names, keypoints=keypoints, points=labels, scores=visible.astype(float), fps=sample.fps)
    truth_tri = triangulate(exact, rig, TriangulationConfig(method="dlt"))
    base = np.linalg.norm(truth_tri.points - sample.truth.points, axis=-1)
    print(f"   (the projected truth itself triangulates to {np.nanmedian(base):.2g} mm)")


if __name__ == "__main__":
    main()
