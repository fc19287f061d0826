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

import contextlib
import logging
import math
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
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
    started_from: str = ""  # what the weights started as: ImageNet's (and from where), another model, random
    seconds_per_iteration: float = float("nan")  # measured on this run's iterations
    test_scale: float = 1.0  # the factor of input_scale chosen for analysis ([train] test_scales)


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


def _newest_readable(found: list[tuple[int, Path]]) -> tuple[Path, dict] | None:
    """The newest snapshot that loads (a truncated one, e.g. from a full disk, is skipped with a warning)."""
    for _, path in reversed(found):
        try:
            return path, torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:
            log.warning("snapshot %s cannot be read (%s: %s); trying the one before it", path, type(exc).__name__,
                        exc)
    return None


def init_from_model(model: PoseNet, path: str | Path, bodyparts: tuple[str, ...]) -> str:
    """Start ``model`` from another trained network: its backbone and head, and the output channels of the
    body parts both share (matched by name); new body parts keep their fresh initialisation.

    This is DeepLabCut's fine-tuning to a new condition or animal. Returns a line saying what was kept.
    """
    path = Path(path)
    if not path.is_file():
        raise NetworkError(f"--init-from {path}: no such file; give another project's models/<name>/model.pt.")
    try:
        other = torch.load(path, map_location="cpu", weights_only=False)
        other_cfg = NetworkConfig.from_dict(other["config"]).model
        other_parts = list(other["bodyparts"])
        state = other["model"]
    except Exception as exc:
        raise NetworkError(f"--init-from {path}: not a mocap3d network file ({type(exc).__name__}: {exc}).") from exc
    shared = [b for b in bodyparts if b in other_parts]
    if not shared:
        raise NetworkError(
            f"--init-from {path}: that network knows none of this project's body parts (it has "
            f"{', '.join(other_parts)}; this project {', '.join(bodyparts)}); nothing to fine-tune from."
        )
    own = model.state_dict()
    body = {k: v for k, v in state.items() if not k.startswith(("heatmap.", "locref."))}
    if any(k not in own or own[k].shape != v.shape for k, v in body.items()) or len(body) != sum(
            not k.startswith(("heatmap.", "locref.")) for k in own):
        raise NetworkError(
            f"--init-from {path}: its network ({other_cfg.backbone}, head {other_cfg.head_channels} channels, "
            f"output stride {other_cfg.output_stride}) is not this project's ({model.backbone.__class__.__name__}); "
            "use the same [model] settings (e.g. the same --preset) as the model you start from."
        )
    own.update(body)
    k_new = {b: i for i, b in enumerate(bodyparts)}
    k_old = {b: i for i, b in enumerate(other_parts)}
    for name in ("heatmap.weight", "heatmap.bias"):
        for b in shared:
            own[name][k_new[b]] = state[name][k_old[b]]
    for name in ("locref.weight", "locref.bias"):  # channels 2k, 2k+1: x and y offsets of keypoint k
        for b in shared:
            own[name][2 * k_new[b]:2 * k_new[b] + 2] = state[name][2 * k_old[b]:2 * k_old[b] + 2]
    model.load_state_dict(own)
    new = [b for b in bodyparts if b not in other_parts]
    return (f"{path} (shared body parts: {', '.join(shared)}"
            + (f"; new, initialised fresh: {', '.join(new)}" if new else "") + ")")


@contextlib.contextmanager
def _one_opencv_thread() -> Iterator[None]:
    """OpenCV on one thread for the block (process-wide), its earlier setting restored afterwards."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _param_groups(model: PoseNet, cfg: NetworkConfig) -> list[dict]:
    """The backbone at ``backbone_lr`` x lr, the head at lr (a pretrained backbone needs gentler steps)."""
    backbone = [p for p in model.backbone.parameters() if p.requires_grad]
    head = [p for n, p in model.named_parameters() if not n.startswith("backbone.") and p.requires_grad]
    return [{"params": backbone, "lr": cfg.train.lr * cfg.train.backbone_lr}, {"params": head, "lr": cfg.train.lr}]


def _freeze_backbone_bn(model: PoseNet) -> None:
    """Batch norm of the backbone as loaded: running statistics fixed (eval mode) and affine parameters frozen."""
    for m in model.backbone.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)


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
    init_from: str | Path | None = None,
) -> TrainResult:
    """Train a network on ``data`` and write ``out_dir/model.pt``; resumable.

    Snapshots ``snapshot-<iteration>.pt`` are written every
    ``cfg.train.checkpoint_every`` iterations (the last ``keep`` are kept);
    with ``resume`` the newest one is continued from. ``stop_after`` ends the
    run after that many iterations in total (a planned interruption; a snapshot
    is written there). ``model.pt`` is written when all ``cfg.train.iterations`` are done.
    ``init_from``: start from another trained network (:func:`init_from_model`) instead of ImageNet's
    weights; a resumed run continues from its snapshot either way.
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
    model = build_model(mc, len(data.bodyparts), load_pretrained=init_from is None)
    started = (f"ImageNet weights from {model.pretrained_from}" if model.pretrained_from else "random weights")
    if init_from is not None:
        started = "the network " + init_from_model(model, init_from, tuple(data.bodyparts))
    if tc.freeze_bn:
        _freeze_backbone_bn(model)
    if tc.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = torch.optim.AdamW(_param_groups(model, cfg), lr=tc.lr, weight_decay=tc.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda it: lr_factor(it, tc.iterations, tc.warmup, tc.min_lr_fraction)
    )
    start, losses = 0, []
    if not resume and rank == 0:
        for _, old in snapshots(out_dir):  # a fresh run must not be mistaken for the old one later
            old.unlink()
    newest = _newest_readable(snapshots(out_dir)) if resume else None
    if newest is not None:
        path, state = newest
        if state.get("config", {}).get("model") != cfg.to_dict()["model"] or list(state.get("bodyparts", [])) != list(
            data.bodyparts
        ):
            raise NetworkError(
                f"{path} was trained with another network or other body parts than asked for now; "
                f"train into another folder, or start over (--fresh) to replace it."
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start, losses = state["iteration"], list(state["losses"])
        started = f"snapshot {path.name} (iteration {start})"
        log.info("resuming from %s (iteration %d)", path, start)
    info: dict[str, Any] = {"config": cfg.to_dict(), "bodyparts": list(data.bodyparts),
                            "skeleton": [list(e) for e in skeleton or []], "symmetric_pairs": [list(p) for p in pairs]}
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model)
    net.train()
    if tc.freeze_bn:
        _freeze_backbone_bn(model)  # train() put them back in training mode
    end = tc.iterations if stop_after is None else min(tc.iterations, stop_after)

    def batch(it: int) -> tuple[np.ndarray, ...]:
        rng = np.random.default_rng([tc.seed, it, rank])
        chosen = rng.integers(0, len(data), tc.batch_size)
        return make_batch(data, chosen, rng, mc, cfg.augment, flip_idx)

    def tensors(arrays: tuple[np.ndarray, ...]) -> tuple[torch.Tensor, ...]:
        # torch ops stay on this thread: a torch op on the augmenting thread starts a second OpenMP team,
        # which made every later iteration ~1.5x slower on 2 cores (measured)
        images, *targets = to_tensor(*arrays)
        if tc.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return (images, *targets)

    def snapshot(it: int) -> None:
        if rank != 0:
            return
        payload = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                   "scheduler": scheduler.state_dict(), "iteration": it, "losses": losses, **info}
        _save(out_dir / f"snapshot-{it:07d}.pt", payload)
        for _, old in snapshots(out_dir)[:-keep]:
            old.unlink(missing_ok=True)

    running: list[float] = []
    t0 = time.perf_counter()
    bar = tqdm(total=tc.iterations, initial=start, desc="train", disable=not progress or rank != 0)
    # OpenCV's own worker threads fight torch's for the cores while a batch is augmented: one OpenCV
    # thread made training 1.4x faster on 2 cores (0.135 against 0.19 s/iteration, EfficientNet-Lite0)
    # the next batch is augmented (numpy, OpenCV) while this one trains
    with _one_opencv_thread(), ThreadPoolExecutor(1) as pool:
        pending = pool.submit(batch, start)
        for it in range(start, end):
            images, heat_t, loc_t, mask = tensors(pending.result())
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
    per_iteration = (time.perf_counter() - t0) / (end - start) if end > start else float("nan")
    if end > start:
        snapshot(end)
    model_path = out_dir / "model.pt"
    test_scale = 1.0
    if end == tc.iterations and rank == 0 and (end > start or not model_path.exists()):
        if tc.test_scales:
            test_scale, errors = choose_test_scale(model, mc, data, tc.test_scales)
            info["config"]["model"]["test_scale"] = test_scale
            if errors:
                log.info("analysis scale: %s", ", ".join(f"{f:g}x {e:.2f} px" for f, e in errors.items()))
            else:
                log.info("analysis at %gx: %d training images are too few to choose [train] test_scales on "
                         "(%d needed)", test_scale, len(data), MIN_SCALE_IMAGES)
        _save(model_path, {"model": model.state_dict(), "iteration": end, "losses": losses, **info})
    if world > 1:
        import torch.distributed as dist

        dist.barrier()  # no process leaves before rank 0 has written its files
        # the group is torn down here, not by the interpreter's exit, where gloo's threads could abort a rank
        dist.destroy_process_group()
    return TrainResult(model_path, end, losses, start, started, per_iteration, test_scale)


# Training images below which the analysis scale is not chosen on them (the first factor is kept). A network
# that memorised a handful of images fits them at every scale, so their errors cannot tell the scales apart: on
# openfield with 10 images the choice picked 1.2x and 1.1x in one of two seeds and the test error rose from
# 3.45 to 9.48 px and from 6.22 to 8.55 px; with 23 images it lowered the test error in 5 of 6 runs
# (benchmarks/bench_transfer.py efficiency runs, their test_at_1x against test).
MIN_SCALE_IMAGES = 20


def choose_test_scale(model: PoseNet, mc: ModelConfig, data: TrainingSet,
                      factors: tuple[float, ...]) -> tuple[float, dict[float, float]]:  # fmt: skip
    """The factor of ``input_scale`` (of ``factors``) at which the network is most accurate on its training
    images, and each factor's mean error (px): analysis then runs at that scale (``[model] test_scale``).

    Selected on the training images only (a test set stays untouched; at most 64 of them, evenly spaced,
    bound the cost to seconds). The first factor wins ties. With fewer than :data:`MIN_SCALE_IMAGES`
    training images the first factor is kept and no errors are returned.
    """
    if len(data) < MIN_SCALE_IMAGES:
        return factors[0], {}
    from .predict import Predictor

    was_training = model.training
    model.eval()
    chosen = np.unique(np.linspace(0, len(data) - 1, min(len(data), 64)).round().astype(int))
    errors: dict[float, float] = {}
    for factor in factors:
        predictor = Predictor(model, mc.replace(test_scale=factor))
        found = np.stack([predictor.predict(data.images[i][None])[0][0] for i in chosen])
        errors[factor] = float(np.nanmean(np.linalg.norm(found - data.keypoints[chosen], axis=-1)))
    model.train(was_training)
    return min(errors, key=lambda f: (errors[f], factors.index(f))), errors


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
