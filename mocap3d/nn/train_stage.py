"""The ``train`` stage: a 2D-network project's labelled frames -> its trained network, ``<out>/model.pt``.

:func:`run` is the stage; ``mocap3d train`` and the project pipeline's train
stage both call it. The job is :func:`mocap3d.nn.train.train` on the project's
training split. Training is resumable: without ``overwrite`` a run continues
from the newest snapshot in ``out`` (a finished network is kept, not trained
again); ``overwrite`` starts afresh (``mocap3d train --fresh``), replacing the
snapshots and, once trained, ``model.pt``. The default folder is the
project's ``models/<name>`` (:func:`default_model_dir`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..config import Config
from ..errors import MocapError
from .config import NetworkError

if TYPE_CHECKING:
    from .project import Project

__all__ = ["TrainStageConfig", "run", "default_model_dir"]


@dataclass(frozen=True)
class TrainStageConfig(Config):
    """Every setting of the train stage besides the project file's own ``[model]``, ``[augment]`` and ``[train]``.

    Attributes
    ----------
    network_preset : replace the project's network settings by this preset (``lite0``, ``hrnet_scratch``...).
    iterations : override ``[train] iterations``.
    batch_size : override ``[train] batch_size``.
    init_from : fine-tune another project's ``model.pt`` (the body parts both share are kept, new ones start
        fresh) instead of starting from ImageNet's weights.
    progress : a progress bar while training.
    """

    network_preset: str | None = None
    iterations: int | None = None
    batch_size: int | None = None
    init_from: Path | None = None
    progress: bool = True

    what: ClassVar[str] = "train stage setting"
    error: ClassVar[type[MocapError]] = NetworkError

    def __post_init__(self) -> None:
        for name in ("iterations", "batch_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise NetworkError(f"{name} must be at least 1 (got {value}).")
        if self.init_from is not None:
            object.__setattr__(self, "init_from", Path(self.init_from))


def default_model_dir(project: str | Path | Project) -> Path:
    """Where a project's network is trained when no folder is given: ``models/<name>`` beside the project file."""
    from .project import Project, load_project

    return (project if isinstance(project, Project) else load_project(project)).model_dir


def _project(config: TrainStageConfig, path: str | Path) -> Project:
    """The project with the stage's preset and overrides applied (checked again as a whole)."""
    from .config import preset
    from .project import load_project

    project = load_project(path)
    if config.network_preset:
        project.network = preset(config.network_preset)
    overrides = {k: getattr(config, k) for k in ("iterations", "batch_size") if getattr(config, k) is not None}
    if overrides:
        project.network = project.network.replace(train=project.network.train.replace(**overrides))
    return project


def run(config: TrainStageConfig, inputs: str | Path, out: str | Path, *, overwrite: bool = False,
        report: Callable[[str], Any] | None = None) -> Path:  # fmt: skip
    """Train the network of the project file ``inputs`` (a ``project.toml``, a DeepLabCut ``config.yaml`` or the
    folder holding one) into the folder ``out``; returns ``out/model.pt``.

    Without ``overwrite`` the newest snapshot in ``out`` is resumed (a finished network stays as it is); a
    ``model.pt`` there without any snapshot is refused, as it cannot be told from a network of another run.
    With ``overwrite`` the old snapshots are removed and training starts over. ``report`` is called with each
    line of the summary: what the weights started from, the iterations, the analysis scale, ``model.pt`` written
    or kept.
    """
    from ..io.outputs import OutputError, check_output_folder
    from .dataset import split
    from .train import snapshots, train

    project = _project(config, inputs)
    out = Path(out)
    labelled = project.data_root / "labeled-data"
    init_from = config.init_from
    check_output_folder(out, [project.path, labelled, *([init_from] if init_from else [])])
    model = out / "model.pt"
    if init_from is not None and model.exists() and model.samefile(init_from):
        raise OutputError(f"--init-from {init_from} is the model.pt this training writes; train into another "
                          "folder (--out), or copy the network you start from elsewhere first.")  # fmt: skip
    if not overwrite and model.exists() and not snapshots(out):
        raise OutputError(f"{model} exists and {out} holds no snapshot to resume from; pass --fresh (overwrite) to "
                          "train a new network in its place, or give another folder (--out).")  # fmt: skip
    data = project.training_set()
    train_idx, _ = split(len(data), project.train_fraction, project.split_seed)
    before = model.stat().st_mtime_ns if model.exists() else None
    result = train(data.subset(train_idx), project.network, out, skeleton=project.skeleton,
                   symmetric_pairs=project.symmetric_pairs, resume=not overwrite, progress=config.progress,
                   init_from=init_from)  # fmt: skip
    start = f" (resumed at {result.resumed_from})" if result.resumed_from else ""
    last = f", final loss {result.losses[-1]:.4f}" if result.losses else ""
    speed = f", {result.seconds_per_iteration:.2f} s/iteration" if result.iterations > result.resumed_from else ""
    lines = [f"started from {result.started_from}", f"trained {result.iterations} iterations{start}{last}{speed}"]
    if result.test_scale != 1.0:
        lines.append(f"analysis at {result.test_scale:g}x the training scale (most accurate on the training images)")
    if before is not None and model.stat().st_mtime_ns == before:
        lines.append(f"kept {model}: trained to the end already (--fresh to train it again)")
    else:
        lines.append(f"wrote {model}")
    for line in lines:
        if report is not None:
            report(line)
    return result.model_path
