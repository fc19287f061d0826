"""Training: seeded, checkpointed, resumable; distributed data parallel under ``torchrun``.

Every iteration's batch (which images, every augmentation draw) comes from
``numpy.random.default_rng([seed, iteration, rank])``, and a checkpoint holds
the model, optimiser and schedule state, so a run stopped at any point and
resumed from its last snapshot continues exactly as an uninterrupted run.
Under ``torchrun`` (``WORLD_SIZE > 1``) each process trains on its own batches
and DistributedDataParallel averages the gradients (gloo on CPU, NCCL on GPUs);
only rank 0 writes files.
"""

from __future__ import annotations

import logging
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..io.atomic import atomic_path
from .augment import flip_index as make_flip_index
from .config import ModelConfig, NetworkConfig, NetworkError
from .dataset import TrainingSet, make_batch
from .heatmaps import pose_loss, to_tensor
from .models import PoseNet, build_model

log = logging.getLogger(__name__)

_SNAPSHOT = re.compile(r"snapshot-(\d+)\.pt$")


@dataclass
class ModelInfo:
    """What a trained network needs besides its weights."""

    config: NetworkConfig
    bodyparts: tuple[str, ...]
    skeleton: list[tuple[str, str]] = field(default_factory=list)
    symmetric_pairs: list[tuple[str, str]] = field(default_factory=list)
    iteration: int = 0


@dataclass
class TrainResult:
    model_path: Path
    iterations: int
    losses: list[float]  # mean total loss per log interval
    resumed_from: int  # 0 when started fresh


def lr_factor(iteration: int, total: int, warmup: int, min_fraction: float) -> float:
    """Linear warm-up over ``warmup`` iterations, then cosine decay to ``min_fraction``."""
    if iteration < warmup:
        return (iteration + 1) / warmup
    t = (iteration - warmup) / max(1, total - warmup)
    return min_fraction + (1 - min_fraction) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def snapshots(out_dir: Path) -> list[tuple[int, Path]]:
    """``(iteration, path)`` of the snapshots in ``out_dir``, oldest first."""
    found = []
    for p in Path(out_dir).glob("snapshot-*.pt"):
        m = _SNAPSHOT.search(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def _distributed() -> tuple[int, int]:
    """``(rank, world_size)``; initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def _save(path: Path, payload: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def train(
    data: TrainingSet,
    cfg: NetworkConfig,
    out_dir: str | Path,
    *,
    skeleton: list[tuple[str, str]] | None = None,
    symmetric_pairs: list[tuple[str, str]] | None = None,
    resume: bool = True,
    stop_after: int | None = None,
    keep: int = 3,
    progress: bool = True,
) -> TrainResult:
    """Train a network on ``data`` and write ``out_dir/model.pt``; resumable.

    Snapshots ``snapshot-<iteration>.pt`` are written every
    ``cfg.train.checkpoint_every`` iterations (the last ``keep`` are kept);
    with ``resume`` the newest one is continued from. ``stop_after`` ends the
    run after that many iterations in total (a planned interruption; a snapshot
    is written there). ``model.pt`` is written when all ``cfg.train.iterations`` are done.
    """
    out_dir = Path(out_dir)
    tc, mc = cfg.train, cfg.model
    rank, world = _distributed()
    if tc.threads:
        torch.set_num_threads(tc.threads)
    if len(data) == 0:
        raise NetworkError("the training set is empty; label some frames or raise the training fraction.")
    pairs = list(symmetric_pairs or [])
    flip_idx = make_flip_index(data.bodyparts, pairs) if pairs else None
    if cfg.augment.flip and not pairs:
        log.warning("augment.flip is on but the project names no symmetric pairs: flipping is skipped")

    torch.manual_seed(tc.seed)
    model = build_model(mc, len(data.bodyparts), load_pretrained=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda it: lr_factor(it, tc.iterations, tc.warmup, tc.min_lr_fraction)
    )
    start, losses = 0, []
    if not resume and rank == 0:
        for _, old in snapshots(out_dir):  # a fresh run must not be mistaken for the old one later
            old.unlink()
    found = snapshots(out_dir) if resume else []
    if found:
        state = torch.load(found[-1][1], map_location="cpu", weights_only=False)
        if state.get("config", {}).get("model") != cfg.to_dict()["model"] or list(state.get("bodyparts", [])) != list(
            data.bodyparts
        ):
            raise NetworkError(
                f"{found[-1][1]} was trained with another network or other body parts than asked for now; "
                f"train into another folder, or start over (--fresh) to replace it."
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start, losses = state["iteration"], list(state["losses"])
        log.info("resuming from %s (iteration %d)", found[-1][1], start)
    info = {"config": cfg.to_dict(), "bodyparts": list(data.bodyparts), "skeleton": [list(e) for e in skeleton or []],
            "symmetric_pairs": [list(p) for p in pairs]}
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model)
    net.train()
    end = tc.iterations if stop_after is None else min(tc.iterations, stop_after)

    def batch(it: int):
        rng = np.random.default_rng([tc.seed, it, rank])
        chosen = rng.integers(0, len(data), tc.batch_size)
        return to_tensor(*make_batch(data, chosen, rng, mc, cfg.augment, flip_idx))

    def snapshot(it: int) -> None:
        if rank != 0:
            return
        payload = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                   "scheduler": scheduler.state_dict(), "iteration": it, "losses": losses, **info}
        _save(out_dir / f"snapshot-{it:07d}.pt", payload)
        for _, old in snapshots(out_dir)[:-keep]:
            old.unlink(missing_ok=True)

    running: list[float] = []
    bar = tqdm(total=tc.iterations, initial=start, desc="train", disable=not progress or rank != 0)
    with ThreadPoolExecutor(1) as pool:  # the next batch is augmented while this one trains
        pending = pool.submit(batch, start)
        for it in range(start, end):
            images, heat_t, loc_t, mask = pending.result()
            if it + 1 < end:
                pending = pool.submit(batch, it + 1)
            heat, loc = net(images)
            heat_loss, loc_loss = pose_loss(heat, loc, heat_t, loc_t, mask, mc.locref_weight)
            loss = heat_loss + loc_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            running.append(loss.item())
            bar.update(1)
            if (it + 1) % tc.log_every == 0 or it + 1 == end:
                losses.append(float(np.mean(running)))
                running = []
                bar.set_postfix(loss=f"{losses[-1]:.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
                log.debug("iteration %d: loss %.5f", it + 1, losses[-1])
            if (it + 1) % tc.checkpoint_every == 0 and it + 1 < end:
                snapshot(it + 1)
    bar.close()
    if end > start:
        snapshot(end)
    model_path = out_dir / "model.pt"
    if end == tc.iterations and rank == 0 and (end > start or not model_path.exists()):
        _save(model_path, {"model": model.state_dict(), "iteration": end, "losses": losses, **info})
    if world > 1:
        import torch.distributed as dist

        dist.barrier()  # no process leaves before rank 0 has written its files
    return TrainResult(model_path, end, losses, start)


def load_model(path: str | Path) -> tuple[PoseNet, ModelInfo]:
    """A trained network (``model.pt`` or a snapshot) in eval mode, and its description."""
    path = Path(path)
    if not path.is_file():
        raise NetworkError(f"model file {path} does not exist; train first (mocap3d train) or give model.pt's path.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        cfg = NetworkConfig.from_dict(state["config"])
        bodyparts = tuple(state["bodyparts"])
    except NetworkError:
        raise
    except Exception as exc:
        raise NetworkError(f"{path}: not a mocap3d network file ({type(exc).__name__}: {exc}).") from exc
    model = build_model(cfg.model, len(bodyparts), load_pretrained=False)
    model.load_state_dict(state["model"])
    model.eval()
    info = ModelInfo(cfg, bodyparts, [tuple(e) for e in state.get("skeleton", [])],
                     [tuple(p) for p in state.get("symmetric_pairs", [])], int(state.get("iteration", 0)))
    return model, info


def model_config_of(path: str | Path) -> ModelConfig:
    return load_model(path)[1].config.model
