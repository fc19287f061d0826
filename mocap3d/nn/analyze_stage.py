"""The ``analyze`` stage: videos -> 2D keypoints with a trained network, one DeepLabCut ``.h5`` (+ ``.csv``) each.

:func:`run` is the stage; ``mocap3d analyze`` and the project pipeline's
default analyzer (``[network] analyzer = "mocap3d.nn:analyze"``, see
:func:`mocap3d.nn.analyze`) both call it. Each video's keypoints go to
``<out>/<video stem>DLC_<scorer>.h5`` in DeepLabCut's analysis layout
(:func:`mocap3d.io.pose2d.save_dlc`), the name ``mocap3d triangulate`` matches
to its camera (``<stem>.h5`` without the scorer, as a pipeline's ``pose-2d/``
has them); optionally a labelled video with the skeleton. A video whose
output exists is skipped (and said so) unless ``overwrite``: an interrupted
batch of videos resumes where it stopped. :func:`analyze_video` is the job for
one video and a loaded network (benchmarks call it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..config import Config
from ..errors import MocapError
from .config import NetworkError

if TYPE_CHECKING:
    from .predict import Predictor
    from .project import Project

__all__ = ["AnalyzeStageConfig", "AnalyzeInputs", "VideoResult", "run", "analyze_video", "BACKENDS"]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx")


@dataclass(frozen=True)
class AnalyzeStageConfig(Config):
    """Every setting of the analyze stage.

    Attributes
    ----------
    model : the trained network, ``model.pt`` or the folder holding it (default: the project's
        ``models/<name>/model.pt``).
    backend : ``onnx`` (ONNX Runtime on the CPU, ``model.onnx`` beside the model, exported when missing),
        ``torch``, or ``auto`` (ONNX Runtime on the CPU where the model folder is writable, else torch).
    device : the torch device (``cpu``, ``cuda:0``).
    batch_size : frames per network call.
    labelled_video : also write ``<output stem>_labeled.mp4``, the predictions drawn on the video.
    save_csv : also write the table as ``.csv``.
    name_with_scorer : ``<stem>DLC_<scorer>.h5`` (DeepLabCut's name); False: ``<stem>.h5``.
    pcutoff : the score below which the labelled video draws no point (default: the project's, else 0.6).
    scorer : the table's scorer (default: ``mocap3d_<the model's backbone>``).
    max_frames : stop after this many frames of each video (quick looks, benchmarks).
    progress : a progress bar per video.
    """

    model: Path | None = None
    backend: str = "auto"
    device: str = "cpu"
    batch_size: int = 16
    labelled_video: bool = False
    save_csv: bool = True
    name_with_scorer: bool = True
    pcutoff: float | None = None
    scorer: str | None = None
    max_frames: int | None = None
    progress: bool = True

    what: ClassVar[str] = "analyze stage setting"
    error: ClassVar[type[MocapError]] = NetworkError

    def __post_init__(self) -> None:
        if self.model is not None:
            object.__setattr__(self, "model", Path(self.model))
        if self.backend not in BACKENDS:
            raise NetworkError(f"backend '{self.backend}' is not one of {', '.join(BACKENDS)}.")
        if self.batch_size < 1 or (self.max_frames is not None and self.max_frames < 1):
            raise NetworkError(f"batch_size ({self.batch_size}) and max_frames ({self.max_frames}) must be at least 1.")
        if self.pcutoff is not None and not 0 <= self.pcutoff <= 1:
            raise NetworkError(f"pcutoff {self.pcutoff} is not a score; give a number from 0 to 1, e.g. 0.6.")


@dataclass(frozen=True)
class AnalyzeInputs:
    """The videos, and optionally the project whose body-part names, skeleton, p-cutoff and default network
    (``models/<name>/model.pt``) the analysis uses (without it: the network's own)."""

    videos: tuple[Path, ...]
    project: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "videos", tuple(Path(p) for p in self.videos))
        if self.project is not None:
            object.__setattr__(self, "project", Path(self.project))

    def paths(self) -> list[Path]:
        return [*self.videos, *([self.project] if self.project else [])]


@dataclass
class VideoResult:
    video: Path
    output: Path
    frames: int
    seconds: float  # wall time of decoding + inference + decoding of heatmaps
    skipped: bool = False

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")

    def line(self) -> str:
        if self.skipped:
            return f"{self.video.name}: {self.output} exists, skipped (--overwrite to redo)"
        return f"{self.video.name}: {self.frames} frames, {self.fps:.1f} frames/s -> {self.output}"


def model_path(model: str | Path | None, project: Project | None) -> Path:
    """The ``model.pt`` to analyse with: ``model`` (the file or its folder), else the project's trained network."""
    if model is None:
        if project is None:
            raise NetworkError("no network to analyse with; give the project (-p) or the network (--model).")
        from .run import default_model

        return default_model(project)
    path = Path(model)
    path = path / "model.pt" if path.is_dir() else path
    if not path.is_file():
        raise NetworkError(f"no trained network at {path}; give a model.pt (or its folder) that "
                           "'mocap3d train' wrote.")  # fmt: skip
    return path


def _outputs(h5: Path, config: AnalyzeStageConfig) -> dict[Path, str]:
    """Every file the analysis of one video writes, with its kind (the output policy's)."""
    files = {h5: "pose2d"}
    if config.save_csv:
        files[h5.with_suffix(".csv")] = "pose2d"
    if config.labelled_video:
        files[h5.with_name(h5.stem + "_labeled.mp4")] = "video"
    return files


def run(config: AnalyzeStageConfig, inputs: AnalyzeInputs, out: str | Path, *, overwrite: bool = False,
        report: Callable[[str], Any] | None = None) -> Path:  # fmt: skip
    """Analyse every video of ``inputs`` into the folder ``out``; returns ``out``.

    A video whose ``.h5`` exists is skipped unless ``overwrite``; an input
    (a video, the project, the network) is never written over, and no output
    replaces a file of another kind. Every output is checked before the first
    video is analysed. ``report`` is called with one line per video.
    """
    from ..io.outputs import OutputError, check_output, check_output_folder
    from .project import load_project
    from .videos import load_predictor, output_path

    out = Path(out)
    if not inputs.videos:
        raise NetworkError("no video to analyse; give one or more video files.")
    project = load_project(inputs.project) if inputs.project is not None else None
    model = model_path(config.model, project)
    read = [*inputs.paths(), model, model.with_suffix(".onnx")]
    check_output_folder(out, read)
    predictor, info = load_predictor(model, config.backend, config.device)
    pcutoff = config.pcutoff if config.pcutoff is not None else project.pcutoff if project is not None else 0.6
    config = config.replace(scorer=config.scorer or f"mocap3d_{info.config.model.backbone}", pcutoff=pcutoff)
    assert config.scorer is not None
    planned: dict[Path, Path] = {}  # output -> video
    for video in inputs.videos:
        h5 = output_path(video, out, config.scorer, config.name_with_scorer)
        if h5 in planned:
            raise OutputError(f"{planned[h5]} and {video} would both be analysed into {h5}; analyse videos of the "
                              "same name into different folders.")  # fmt: skip
        planned[h5] = video
        if h5.exists() and not overwrite:
            continue
        for path, kind in _outputs(h5, config).items():  # never an input, never a file of another kind
            check_output(path, read, overwrite=True, kinds=[kind])
    skeleton = project.skeleton if project is not None else info.skeleton
    for video in planned.values():
        result = analyze_video(predictor, info.bodyparts, video, out, config, skeleton, overwrite=overwrite)
        if report is not None:
            report(result.line())
    return out


def analyze_video(predictor: Predictor, bodyparts: Sequence[str], video: str | Path,
                  out_dir: str | Path | None = None, config: AnalyzeStageConfig | None = None,
                  skeleton: list[tuple[str, str]] | None = None, *, overwrite: bool = False) -> VideoResult:
    """Keypoints of every frame of ``video`` -> ``<out_dir>/<stem>DLC_<scorer>.h5`` (+ ``.csv``, labelled ``.mp4``;
    ``out_dir`` None: beside the video). An existing output is kept (the result says skipped) unless
    ``overwrite``."""
    import numpy as np
    from tqdm import tqdm

    from ..io.pose2d import save_dlc
    from ..poses import Track2D
    from .videos import dlc_scorer_name, output_path, read_batches, video_info, write_labelled_video

    config = config or AnalyzeStageConfig()
    bodyparts = tuple(bodyparts)
    scorer = config.scorer or "mocap3d"
    video = Path(video)
    out = output_path(video, out_dir, scorer, config.name_with_scorer)
    if out.exists() and not overwrite:
        log.info("%s exists; skipped (overwrite to redo)", out)
        return VideoResult(video, out, 0, 0.0, skipped=True)
    w, h, n, fps = video_info(video)
    total = min(n, config.max_frames) if config.max_frames and n else (config.max_frames or n or None)
    points, scores = [], []
    t0 = time.perf_counter()
    with tqdm(total=total, desc=video.name, unit="frame", disable=not config.progress) as bar:
        for batch in read_batches(video, config.batch_size, config.max_frames):
            xy, s = predictor.predict(batch)
            points.append(xy)
            scores.append(s)
            bar.update(len(batch))
    seconds = time.perf_counter() - t0
    if not points:
        raise NetworkError(f"{video}: no frame could be decoded.")
    xy, s = np.concatenate(points), np.concatenate(scores)
    track = Track2D(xy[:, None], s[:, None], bodyparts, source=str(video))
    table_scorer = dlc_scorer_name(scorer) if config.name_with_scorer else scorer
    save_dlc(track, out, scorer=table_scorer)
    if config.save_csv:
        save_dlc(track, out.with_suffix(".csv"), scorer=table_scorer)
    if config.labelled_video:
        pcutoff = config.pcutoff if config.pcutoff is not None else 0.6
        write_labelled_video(video, xy, s, bodyparts, out.with_name(out.stem + "_labeled.mp4"), pcutoff, skeleton,
                             fps or 30.0)  # fmt: skip
    log.info("%s: %d frames in %.1f s (%.1f frames/s) -> %s", video.name, len(xy), seconds, len(xy) / seconds, out)
    return VideoResult(video, out, len(xy), seconds)
