"""Project-level steps behind the CLI: train, evaluate (with label checking), analyse, export.

Each step reads the project, does one job, writes its outputs atomically and
returns what it wrote; finished work is skipped on a re-run where that makes
sense (training resumes from its last snapshot, analysed videos are skipped).
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
from .train import TrainResult, load_model, train
from .videos import AnalyzeConfig, VideoResult, analyze_video, load_predictor

log = logging.getLogger(__name__)


def train_project(project: Project, *, out_dir: str | Path | None = None, resume: bool = True,
                  stop_after: int | None = None, progress: bool = True,
                  init_from: str | Path | None = None) -> TrainResult:
    """Train the project's network on its training split -> ``<out_dir>/model.pt`` (default: ``models/<name>``).

    ``init_from``: fine-tune another project's ``model.pt`` (shared body parts matched by name).
    """
    data = project.training_set()
    train_idx, _ = split(len(data), project.train_fraction, project.split_seed)
    out = Path(out_dir) if out_dir else project.model_dir
    return train(data.subset(train_idx), project.network, out, skeleton=project.skeleton,
                 symmetric_pairs=project.symmetric_pairs, resume=resume, stop_after=stop_after, progress=progress,
                 init_from=init_from)


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


def analyze_project_videos(project: Project, videos: list[Path], model_path: str | Path | None = None,
                           out_dir: str | Path | None = None, cfg: AnalyzeConfig | None = None,
                           backend: str = "auto", device: str = "cpu") -> list[VideoResult]:
    """Analyse videos with the project's network (ONNX Runtime with ``backend="onnx"``: ``model.onnx`` beside it;
    ``"auto"``: ONNX Runtime on the CPU where it can be, else torch)."""
    predictor, info = load_predictor(model_path or default_model(project), backend, device)
    cfg = cfg or AnalyzeConfig(pcutoff=project.pcutoff)
    return [analyze_video(predictor, info.bodyparts, v, out_dir, cfg, project.skeleton) for v in videos]
