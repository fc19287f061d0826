"""Fine-tuning to a viewpoint the network never saw: DeepLabCut's "about ten more labelled frames" result.

Usage::

    python benchmarks/bench_finetune.py                      # 100 frames per camera, 4-minute base, 2-minute tunes
    python benchmarks/bench_finetune.py --frames 60 --base-minutes 2 --tune-minutes 1   # quicker
    python benchmarks/bench_finetune.py --base-iterations 1870 --tune-iterations 935    # a busy machine: the
                                                  # counts an idle 2-core machine trains in 4 and 2 minutes

On the sample rig (4 cameras, 1280x1024, lens distortion; the walker rendered as in
``bench_nn_sample_rig.py``), an ImageNet-pretrained EfficientNet-Lite0 (preset ``lite0``) is trained on
frames of three cameras. The fourth camera is a viewpoint it never saw. Then, as in DeepLabCut:

* **fine-tuned**: 11 labelled frames of the fourth camera are added to the training set and the network
  is re-trained from its own weights (``mocap3d train --init-from``) for at most ``--tune-minutes``;
* **fine-tuned on the new frames only**: the 11 frames alone, re-trained from the network's weights
  (a new project of the new camera, ``mocap3d train NEW --init-from BASE/model.pt``);
* **control**: the same 11 frames alone, trained from ImageNet's weights for the same time.

The rendered walker fills a 1280x1024 frame, so every network here sees frames at half size (as the demo's).

Errors are on the fourth camera's frames that were never labelled (pixels, against the projected truth).
Results go to ``benchmarks/results/finetune.md`` (``finetune-<base>it-<tune>it.md`` with fixed iteration counts).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nn_sample_rig import render  # noqa: E402  (the walker drawn through the rig's lenses)

from mocap3d.nn.config import preset  # noqa: E402
from mocap3d.nn.dataset import TrainingSet  # noqa: E402
from mocap3d.nn.evaluate import predict_images  # noqa: E402
from mocap3d.nn.predict import Predictor  # noqa: E402
from mocap3d.nn.train import load_model, train  # noqa: E402
from mocap3d.sample import make_sample  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def fit(data: TrainingSet, minutes: float, out: Path, threads: int, init_from: Path | None = None,
        iterations: int = 0):
    """Train preset lite0 on ``data`` for the iteration count that fits ``minutes`` (speed measured first), or
    for exactly ``iterations``."""
    cfg = preset("lite0")
    cfg = cfg.replace(model=cfg.model.replace(input_scale=0.5),
                      train=cfg.train.replace(threads=threads, checkpoint_every=10**6, iterations=10**6,
                                              test_scales=()))
    t0 = time.perf_counter()
    train(data, cfg, out, stop_after=5, progress=False, init_from=init_from)
    probe = train(data, cfg, out, stop_after=25, progress=False, init_from=init_from)
    left = minutes * 60 - (time.perf_counter() - t0)
    fitted = max(40, 25 + int(left / probe.seconds_per_iteration))
    cfg = cfg.replace(train=cfg.train.replace(iterations=iterations or fitted))
    cfg = cfg.replace(train=cfg.train.replace(warmup=min(cfg.train.warmup, cfg.train.iterations // 10)))
    result = train(data, cfg, out, progress=False, init_from=init_from)
    return result, (time.perf_counter() - t0) / 60


def errors(model_path: Path, frames: list[np.ndarray], truth: np.ndarray, visible: np.ndarray,
           skip: set[int]) -> np.ndarray:
    model, info = load_model(model_path)
    pred, _ = predict_images(Predictor(model, info.config.model), frames, batch_size=8)
    err = np.linalg.norm(pred - truth, axis=-1)
    keep = np.array([f not in skip for f in range(len(frames))])
    return err[keep][visible[keep]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=100, help="frames per camera")
    ap.add_argument("--base-labelled", type=int, default=40, help="labelled frames per training camera")
    ap.add_argument("--new-labelled", type=int, default=11, help="labelled frames of the new camera")
    ap.add_argument("--base-minutes", type=float, default=4.0)
    ap.add_argument("--tune-minutes", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--base-iterations", type=int, default=0,
                    help="train the base network exactly this many iterations instead of fitting them to "
                         "--base-minutes (for runs on a busy machine: the count an idle one reaches in the budget)")
    ap.add_argument("--tune-iterations", type=int, default=0, help="the same for each fine-tuning arm")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(args.threads)
    sample = make_sample(n_frames=args.frames, noise_px=0.0, outlier_fraction=0.0, occlusion=False)
    rig, keypoints = sample.rig, sample.truth.keypoints
    frames = render(sample)
    truth = rig.project(sample.truth.points)  # (V, F, K, 2)
    visible = rig.in_image(truth) & (rig.depths(sample.truth.points) > 0)
    labels = np.where(visible[..., None], truth, np.nan)
    new = len(rig.names) - 1

    def labelled(views: list[int], per_view: int, offset: float = 0.0) -> tuple[TrainingSet, set[int]]:
        idx = np.unique(np.linspace(offset, args.frames - 1, per_view).round().astype(int))
        picks = [(v, int(f)) for v in views for f in idx]
        return TrainingSet(tuple(f"{rig.names[v]}/{f}" for v, f in picks), [frames[v][f] for v, f in picks],
                           np.stack([labels[v, f] for v, f in picks]), keypoints), {int(f) for f in idx}

    base_set, _ = labelled(list(range(new)), args.base_labelled)
    new_set, new_frames = labelled([new], args.new_labelled, offset=3.0)
    both = TrainingSet(base_set.names + new_set.names, base_set.images + new_set.images,
                       np.concatenate([base_set.keypoints, new_set.keypoints]), keypoints)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base, base_min = fit(base_set, args.base_minutes, Path(tmp) / "base", args.threads,
                             iterations=args.base_iterations)
        cam = (frames[new], truth[new], visible[new], new_frames)
        seen = errors(base.model_path, frames[0], truth[0], visible[0], set())
        before = errors(base.model_path, *cam)
        tuned, tuned_min = fit(both, args.tune_minutes, Path(tmp) / "tuned", args.threads,
                               init_from=base.model_path, iterations=args.tune_iterations)
        after = errors(tuned.model_path, *cam)
        only, only_min = fit(new_set, args.tune_minutes, Path(tmp) / "only", args.threads, init_from=base.model_path,
                             iterations=args.tune_iterations)
        after_only = errors(only.model_path, *cam)
        alone, alone_min = fit(new_set, args.tune_minutes, Path(tmp) / "alone", args.threads,
                               iterations=args.tune_iterations)
        control = errors(alone.model_path, *cam)
    name = rig.names[new]
    rows = [("trained on 3 cameras, on a camera it saw (" + rig.names[0] + ")", seen, base.iterations, base_min),
            (f"same network on {name}, never seen", before, base.iterations, base_min),
            (f"+ {len(new_frames)} labelled {name} frames, fine-tuned (--init-from)", after, tuned.iterations,
             tuned_min),
            (f"those {len(new_frames)} frames alone, fine-tuned (--init-from)", after_only, only.iterations, only_min),
            (f"control: those {len(new_frames)} frames alone, from ImageNet", control, alone.iterations, alone_min)]
    lines = [f"Sample rig, {args.frames} frames per camera (1280x1024), preset lite0 on {args.threads} threads; "
             f"errors on {name}'s unlabelled frames (px, against the projected truth)", "",
             "| network | iterations | minutes | median (px) | mean (px) | 90th pct (px) |",
             "|---|---|---|---|---|---|"]
    for label, e, its, minutes in rows:
        lines.append(f"| {label} | {its} | {minutes:.1f} | {np.median(e):.2f} | {e.mean():.2f} | "
                     f"{np.percentile(e, 90):.2f} |")
    text = "\n".join(lines)
    print(text)
    (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
    suffix = f"-{args.base_iterations}it-{args.tune_iterations}it" if args.base_iterations else ""  # no overwriting
    (REPO / "benchmarks" / "results" / f"finetune{suffix}.md").write_text(f"`python {' '.join(sys.argv)}`\n\n{text}\n")


if __name__ == "__main__":
    main()
