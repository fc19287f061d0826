"""Training speed on CPUs: seconds per iteration of the 2D presets, and where the time goes.

Usage::

    python benchmarks/bench_train_speed.py                   # lite0, lite0 variants, hrnet_scratch; 2 threads
    python benchmarks/bench_train_speed.py --busy            # the same with a busy-loop process on one core

Each row trains on DeepLabCut's openfield labels through ``mocap3d.nn.train.train`` (the real loop:
augmentation on a background thread, channels-last if the preset asks) for ``--iterations`` after a
10-iteration warm-up, and reports s/iteration. A second table splits one iteration of the preset's network
into batch preparation, forward, backward and optimizer step (measured inline on the main thread).
``--busy`` starts a process spinning on one core for the whole run (another job sharing the machine).
Results: ``benchmarks/results/train_speed.md``.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mocap3d.nn.augment import flip_index
from mocap3d.nn.config import preset
from mocap3d.nn.dataset import make_batch
from mocap3d.nn.heatmaps import pose_loss, to_tensor
from mocap3d.nn.models import build_model
from mocap3d.nn.project import dlc_project
from mocap3d.nn.train import train

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MOCAP3D_DATASETS", REPO.parent / "shared" / "datasets"))
PROJECT = DATA / "deeplabcut" / "examples" / "openfield-Pranav-2018-10-30"

VARIANTS = [
    ("lite0", {}),
    ("lite0", {"channels_last": False}),
    ("lite0", {"freeze_bn": True}),
    ("lite0", {"threads": 1}),
    ("fast", {}),
    ("smoke", {}),
    ("hrnet_scratch", {}),
    ("hrnet_scratch", {"channels_last": True}),
]


def _spin() -> None:
    while True:
        pass


def loop_speed(data, pairs, name: str, train_overrides: dict, iterations: int, threads: int) -> float:
    cfg = preset(name)
    changes = {"threads": threads, **train_overrides, "iterations": 10**6, "checkpoint_every": 10**6}
    cfg = cfg.replace(train=cfg.train.replace(**changes))
    with tempfile.TemporaryDirectory() as tmp:
        train(data, cfg, tmp, symmetric_pairs=pairs, stop_after=10, progress=False)
        return train(data, cfg, tmp, symmetric_pairs=pairs, stop_after=10 + iterations,
                     progress=False).seconds_per_iteration


def breakdown(data, pairs, name: str, iterations: int) -> dict[str, float]:
    cfg = preset(name)
    mc = cfg.model
    model = build_model(mc, len(data.bodyparts))
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
    fi = flip_index(data.bodyparts, pairs)
    rng = np.random.default_rng(0)
    times: dict[str, list[float]] = {"batch": [], "forward": [], "backward": [], "optimizer": []}
    for it in range(iterations + 3):
        t0 = time.perf_counter()
        images, *targets = to_tensor(*make_batch(data, rng.integers(0, len(data), cfg.train.batch_size), rng, mc,
                                                 cfg.augment, fi))
        if cfg.train.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        t1 = time.perf_counter()
        heat, loc = model(images)
        a, b = pose_loss(heat, loc, *targets, mc.locref_weight)
        t2 = time.perf_counter()
        opt.zero_grad()
        (a + b).backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        if it >= 3:
            for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                times[key].append(dt)
    return {k: float(np.median(v)) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--busy", action="store_true", help="a busy-loop process on one core during the run")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(args.threads)
    project = dlc_project(PROJECT / "config.yaml")
    data, pairs = project.training_set(), project.symmetric_pairs
    spinner = mp.Process(target=_spin, daemon=True) if args.busy else None
    if spinner:
        spinner.start()
    try:
        lines = [f"openfield labels, {args.iterations} iterations after a 10-iteration warm-up, {args.threads} threads"
                 + (", one core kept busy by another process" if args.busy else ""), "",
                 "| preset | change | s/iteration | iterations/s |", "|---|---|---|---|"]
        for name, overrides in VARIANTS:
            s = loop_speed(data, pairs, name, overrides, args.iterations, args.threads)
            change = ", ".join(f"{k} = {v}" for k, v in overrides.items()) or "as the preset"
            lines.append(f"| {name} | {change} | {s:.3f} | {1 / s:.1f} |")
            print(lines[-1], flush=True)
        lines += ["", "where one iteration's time goes (inline, main thread; median ms):", "",
                  "| preset | batch (augment + targets) | forward + loss | backward | optimizer |",
                  "|---|---|---|---|---|"]
        for name in ("lite0", "hrnet_scratch"):
            t = breakdown(data, pairs, name, args.iterations // 2)
            lines.append(f"| {name} | " + " | ".join(f"{1000 * v:.0f}" for v in t.values()) + " |")
            print(lines[-1], flush=True)
    finally:
        if spinner:
            spinner.terminate()
    text = "\n".join(lines)
    print(text)
    name = "train_speed-busy.md" if args.busy else "train_speed.md"
    (REPO / "benchmarks" / "results" / name).write_text(f"`python {' '.join(sys.argv)}`\n\n{text}\n")


if __name__ == "__main__":
    main()
