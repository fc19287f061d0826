"""A project's trained network and its evaluation (with label checking), behind ``mocap3d evaluate``.

Training and video analysis are stages: :mod:`mocap3d.nn.train_stage` and
:mod:`mocap3d.nn.analyze_stage`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..io.atomic import atomic_write_text
from .config import NetworkError
from .dataset import split
from .evaluate import Evaluation, LabelIssue, check_labels, draw_comparison, evaluate, write_png
from .predict import Predictor
from .project import Project
from .train import load_model

log = logging.getLogger(__name__)


def default_model(project: Project) -> Path:
    path = project.model_dir / "model.pt"
    if not path.is_file():
        raise NetworkError(f"no trained network at {path}; run 'mocap3d train {project.path}' or pass --model.")
    return path


@dataclass
class EvaluationReport:
    evaluation: Evaluation
    issues: list[LabelIssue]
    summary_path: Path
    issue_images: list[Path]


def evaluate_project(project: Project, model_path: str | Path | None = None, out_dir: str | Path | None = None,
                     plots: bool = True, backend: str = "torch") -> EvaluationReport:
    """Train/test errors of a trained network on the project's labels, and a list of suspicious labels.

    Writes ``<out_dir>/evaluation.txt``, prediction pictures in
    ``<out_dir>/predictions/`` and one picture per suspicious label in
    ``<out_dir>/label-check/``.
    """
    model_path = Path(model_path) if model_path else default_model(project)
    model, info = load_model(model_path)
    out = Path(out_dir) if out_dir else model_path.parent / "evaluation"
    data = project.training_set()
    train_idx, test_idx = split(len(data), project.train_fraction, project.split_seed)
    predictor = Predictor(model, info.config.model, backend=backend)
    ev = evaluate(predictor, data, train_idx, test_idx, project.pcutoff,
                  image_dir=out / "predictions" if plots else None, skeleton=project.skeleton)
    issues = check_labels(data, ev.predictions, ev.scores, project.symmetric_pairs, project.pcutoff)
    images = []
    for issue in issues:
        i = issue.index
        pic = draw_comparison(data.images[i], data.keypoints[i], ev.predictions[i], ev.scores[i], project.pcutoff,
                              data.bodyparts, project.skeleton)
        stem = Path(issue.image).stem
        images.append(write_png(out / "label-check" / f"{issue.kind}_{Path(issue.image).parent.name}_{stem}.png", pic))
    lines = [f"model: {model_path} (iteration {info.iteration})",
             f"split: training fraction {project.train_fraction}, seed {project.split_seed}; pcutoff {project.pcutoff}",
             *ev.lines(), "", f"labels to review ({len(issues)}):", *[s.line() for s in issues]]
    summary = atomic_write_text(out / "evaluation.txt", "\n".join(lines) + "\n")
    return EvaluationReport(ev, issues, summary, images)
