"""2D network on DeepLabCut's openfield example: from-scratch training, train/test error, analysis speed.

Usage::

    nice -n 10 python benchmarks/bench_openfield.py                 # 80/20 split, 25-minute budget, 2 threads
    python benchmarks/bench_openfield.py --fractions 0.8 0.95       # both splits (one budget each)
    python benchmarks/bench_openfield.py --quick                    # a few minutes: pipeline check, not accuracy
    python benchmarks/bench_openfield.py --pretrained imagenet --preset resnet_50   # transfer learning (needs weights)
    python benchmarks/bench_openfield.py --speed-only --model M.pt  # frames/s of analyze for a trained model
    nice -n 10 python benchmarks/bench_openfield.py --preset fast --minutes 20   # the fast setting's accuracy

Data: ``$MOCAP3D_DATASETS/deeplabcut/examples/openfield-Pranav-2018-10-30``
(116 human-labelled 640x480 frames, 4 body parts), imported as it is. The
split is seeded (``--seed``). Training stops at the iteration count that fits
``--minutes`` (measured on the first iterations), with the learning-rate
schedule laid over that count. Errors are in full-image pixels: the mean
Euclidean distance (what DeepLabCut calls RMSE) and the true RMS, with and
without the p-cutoff, and PCK. DeepLabCut itself is not installable here; its
published figure for this kind of data is a test error of a few pixels with
ImageNet-pretrained ResNet-50. Writes a Markdown table to
``benchmarks/results/openfield.md`` (``openfield-<preset>.md`` for other presets)
and the label check to the output folder.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import torch

from mocap3d.nn.analyze_stage import AnalyzeStageConfig, analyze_video
from mocap3d.nn.config import preset
from mocap3d.nn.dataset import split
from mocap3d.nn.evaluate import check_labels, evaluate
from mocap3d.nn.predict import Predictor, export_onnx
from mocap3d.nn.project import dlc_project
from mocap3d.nn.train import load_model, train

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MOCAP3D_DATASETS", REPO.parent / "shared" / "datasets"))
PROJECT = DATA / "deeplabcut" / "examples" / "openfield-Pranav-2018-10-30"


def run_split(project, data, fraction, args, out: Path) -> dict:
    train_idx, test_idx = split(len(data), fraction, args.seed)
    cfg = preset(args.preset)
    if args.pretrained:
        cfg = cfg.replace(model=cfg.model.replace(pretrained=args.pretrained))
    if args.input_scale:
        cfg = cfg.replace(model=cfg.model.replace(input_scale=args.input_scale))
    cfg = cfg.replace(train=cfg.train.replace(threads=args.threads))
    cfg = cfg.replace(train=cfg.train.replace(checkpoint_every=200))
    folder = out / f"split{int(round(fraction * 100))}"
    subset = data.subset(train_idx)
    # measure the speed on the first iterations, then lay the schedule over what fits the budget
    probe = 30
    cfg = cfg.replace(train=cfg.train.replace(iterations=10**6))
    t0 = time.perf_counter()
    train(subset, cfg, folder, symmetric_pairs=project.symmetric_pairs, stop_after=probe, progress=False)
    per_iter = (time.perf_counter() - t0) / probe
    iterations = args.iterations or max(probe + 50, int(args.minutes * 60 / per_iter))
    cfg = cfg.replace(train=cfg.train.replace(iterations=iterations))
    result = train(subset, cfg, folder, symmetric_pairs=project.symmetric_pairs, progress=True)
    seconds = time.perf_counter() - t0
    model, info = load_model(result.model_path)
    predictor = Predictor(model, info.config.model)
    ev = evaluate(predictor, data, train_idx, test_idx, project.pcutoff, image_dir=folder / "predictions",
                  skeleton=project.skeleton)
    issues = check_labels(data, ev.predictions, ev.scores, project.symmetric_pairs, project.pcutoff)
    (folder / "label-check.txt").write_text("\n".join(i.line() for i in issues) + "\n")
    return {"fraction": fraction, "n_train": len(train_idx), "n_test": len(test_idx), "iterations": result.iterations,
            "minutes": seconds / 60, "ev": ev, "issues": issues, "model": result.model_path}


def speed(model_path: Path, video: Path, frames: int, threads: int, batch: int) -> list[tuple[str, float]]:
    model, info = load_model(model_path)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "m.onnx")
        for name, pred in (("torch", Predictor(model, info.config.model)),
                           ("onnx", Predictor(None, info.config.model, backend="onnx", onnx_path=onnx_path,
                                              threads=threads))):
            cfg = AnalyzeStageConfig(batch_size=batch, max_frames=frames, save_csv=False, scorer=name, progress=False)
            r = analyze_video(pred, info.bodyparts, video, tmp, cfg, overwrite=True)
            rows.append((name, r.fps))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="scratch")
    ap.add_argument("--pretrained", default=None, help="imagenet or a checkpoint path (default: the preset's)")
    ap.add_argument("--input-scale", type=float, default=None)
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.8])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=25.0, help="training budget per split (wall clock)")
    ap.add_argument("--iterations", type=int, default=None, help="fixed iteration count instead of --minutes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--speed-frames", type=int, default=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--quick", action="store_true", help="3-minute budget, 100 frames of video")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "mocap3d-openfield")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.minutes, args.speed_frames = 3.0, 50
    if not PROJECT.is_dir():
        raise SystemExit(f"dataset not found at {PROJECT} (set MOCAP3D_DATASETS)")
    project = dlc_project(PROJECT / "config.yaml")
    video = project.video_paths()[0]
    lines = []
    if args.speed_only:
        for name, fps in speed(args.model, video, args.speed_frames, args.threads, args.batch):
            lines.append(f"{name}: {fps:.1f} frames/s")
        print("\n".join(lines))
        return
    data = project.training_set()
    print(f"openfield: {len(data)} labelled frames, body parts {data.bodyparts}, pairs {project.symmetric_pairs}")
    header = ("| split | train/test | preset | iterations | minutes | train mean (RMSE) | train RMS | test mean (RMSE) "
              "| test RMS | test mean p>cut | test PCK@5px |")
    lines += [header, "|" + "---|" * 11]
    runs = []
    for fraction in args.fractions:
        r = run_split(project, data, fraction, args, args.out)
        runs.append(r)
        tr, te = r["ev"].train, r["ev"].test
        lines.append(f"| {fraction:.2f} | {r['n_train']}/{r['n_test']} | {args.preset} | {r['iterations']} | "
                     f"{r['minutes']:.1f} | {tr.mean_error:.2f} | {tr.rms:.2f} | {te.mean_error:.2f} | {te.rms:.2f} | "
                     f"{te.mean_error_pcutoff:.2f} | {te.pck[5.0]:.1%} |")
        print(lines[-1], flush=True)
    speed_rows = speed(runs[0]["model"], video, args.speed_frames, args.threads, args.batch)
    ratio = speed_rows[1][1] / speed_rows[0][1]
    lines += ["", f"analyze speed ({args.speed_frames} frames of {video.name}, decoding included, {args.threads} "
              f"threads): torch {speed_rows[0][1]:.1f} frames/s, ONNX Runtime {speed_rows[1][1]:.1f} frames/s "
              f"(x{ratio:.2f})", "", "labels to review (first split):"]
    lines += [f"- {i.line()}" for i in runs[0]["issues"][:10]]
    text = "\n".join(lines)
    print(text)
    (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
    name = "openfield.md" if args.preset == "scratch" else f"openfield-{args.preset}.md"
    name = "openfield-quick.md" if args.quick else name
    (REPO / "benchmarks" / "results" / name).write_text(text + "\n")
    print(f"predictions and label check in {args.out}; errors per body part:",
          {k: round(v, 2) for k, v in runs[0]["ev"].test.per_bodypart.items()})


if __name__ == "__main__":
    main()
