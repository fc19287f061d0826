"""Frames per second of ``analyze`` for each network preset: eager torch against ONNX Runtime.

Usage::

    python benchmarks/bench_nn_speed.py                      # 200 frames of the openfield video per run, 2 threads
    python benchmarks/bench_nn_speed.py --frames 50 --presets fast scratch
    python benchmarks/bench_nn_speed.py --device cuda        # torch on a GPU (batch 64)
    python benchmarks/bench_nn_speed.py --presets lite0 fast --test-scale 1 1.2 --out nn_speed-lite.md

Speed does not depend on the weights, so the networks are untrained (no
download). Each run decodes the 640x480 video in a background thread, resizes
to the preset's input scale, runs the network and decodes the heatmaps, as
``mocap3d analyze`` does; the time is wall clock for all of it. Writes
``benchmarks/results/nn_speed.md``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch

from mocap3d.nn.analyze_stage import AnalyzeStageConfig, analyze_video
from mocap3d.nn.config import preset
from mocap3d.nn.models import build_model
from mocap3d.nn.predict import Predictor, export_onnx

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MOCAP3D_DATASETS", REPO.parent / "shared" / "datasets"))
VIDEO = DATA / "deeplabcut" / "examples" / "openfield-Pranav-2018-10-30" / "videos" / "m3v1mp4.mp4"
BODYPARTS = ("snout", "leftear", "rightear", "tailbase")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=["resnet_50", "mobilenet_v2", "hrnet", "scratch", "fast"])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-onnx", action="store_true")
    ap.add_argument("--test-scale", type=float, nargs="+", default=[1.0],
                    help="analysis at these multiples of each preset's input scale (a trained network's "
                         "[model] test_scale; the Lite presets choose 1.0-1.3)")
    ap.add_argument("--out", default="nn_speed.md", help="results file name in benchmarks/results/")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lines = [f"analyze speed, {args.frames} frames of 640x480 video, {args.threads} threads, device {args.device}, "
             f"batch {args.batch}", "",
             "| preset | backbone | input scale | torch frames/s | ONNX Runtime frames/s | ratio |",
             "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, factor in ((n, f) for n in args.presets for f in args.test_scale):
            cfg = preset(name).model.replace(pretrained="none", test_scale=factor)
            torch.manual_seed(0)
            model = build_model(cfg, len(BODYPARTS)).eval()
            runs = {"torch": Predictor(model, cfg, device=args.device)}
            if not args.no_onnx:
                path = export_onnx(model, Path(tmp) / f"{name}.onnx")
                runs["onnx"] = Predictor(None, cfg, backend="onnx", onnx_path=path, threads=args.threads)
            fps = {}
            for backend, predictor in runs.items():
                acfg = AnalyzeStageConfig(batch_size=args.batch, max_frames=args.frames, save_csv=False,
                                          scorer=f"{name}_{backend}", progress=False)
                fps[backend] = analyze_video(predictor, BODYPARTS, VIDEO, tmp, acfg, overwrite=True).fps
            onnx = fps.get("onnx", float("nan"))
            scale = f"{cfg.input_scale:g}" + (f" x {factor:g}" if factor != 1 else "")
            lines.append(f"| {name} | {cfg.backbone} | {scale} | {fps['torch']:.1f} | {onnx:.1f} | "
                         f"{onnx / fps['torch']:.2f} |")
            print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
    (REPO / "benchmarks" / "results" / args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
