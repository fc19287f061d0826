"""A 2D-network project: body parts, skeleton, cameras, videos and network settings in one TOML.

```toml
[project]
name = "openfield"
scorer = "Pranav"                       # labeller; label files are CollectedData_<scorer>.h5
data = "."                              # folder holding labeled-data/ (relative to this file)
bodyparts = ["snout", "leftear", "rightear", "tailbase"]
skeleton = [["snout", "leftear"], ["snout", "rightear"]]
symmetric_pairs = [["leftear", "rightear"]]   # swapped by left/right flips; checked by label checking
cameras = []                            # camera names (multi-camera projects)
videos = ["videos/m3v1mp4.mp4"]
train_fraction = 0.95
split_seed = 1
pcutoff = 0.6

[model]    # mocap3d.nn.config.ModelConfig
[augment]  # AugmentConfig
[train]    # TrainConfig
```

An existing DeepLabCut project imports without conversion (:func:`import_dlc`):
its ``config.yaml`` gives the body parts, skeleton, videos, training fraction
and p-cutoff, and its ``labeled-data/*/CollectedData_*.h5|csv`` are read in
place (never modified).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import toml

from ..io.atomic import atomic_write_text
from ..io.labels import LabelSet, find_label_files, load_labels
from .config import DEFAULT_PRESET, NetworkConfig, NetworkError, preset
from .dataset import TrainingSet
from .evaluate import infer_symmetric_pairs

log = logging.getLogger(__name__)

# DeepLabCut net types -> our backbones
_DLC_NETS = {"resnet": "resnet_50", "mobilenet": "mobilenet_v2", "hrnet": "hrnet"}


@dataclass
class Project:
    path: Path  # the project TOML
    name: str
    bodyparts: tuple[str, ...]
    scorer: str = "mocap3d"
    data: str = "."
    skeleton: list[tuple[str, str]] = field(default_factory=list)
    symmetric_pairs: list[tuple[str, str]] = field(default_factory=list)
    cameras: list[str] = field(default_factory=list)
    videos: list[str] = field(default_factory=list)
    train_fraction: float = 0.95
    split_seed: int = 1
    pcutoff: float = 0.6
    network: NetworkConfig = field(default_factory=NetworkConfig)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.bodyparts = tuple(self.bodyparts)
        if not self.bodyparts:
            raise NetworkError(f"{self.path}: the project names no body parts ([project] bodyparts = [...]).")
        for group, pairs in (("skeleton", self.skeleton), ("symmetric_pairs", self.symmetric_pairs)):
            bad = sorted({b for pair in pairs for b in pair if b not in self.bodyparts})
            if bad:
                raise NetworkError(
                    f"{self.path}: {group} names {bad}, which are not body parts {list(self.bodyparts)}."
                )
        self.skeleton = [(str(a), str(b)) for a, b in self.skeleton]
        self.symmetric_pairs = [(str(a), str(b)) for a, b in self.symmetric_pairs]

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def data_root(self) -> Path:
        """The folder holding ``labeled-data/`` (image paths in label files are relative to it)."""
        return (self.folder / self.data).resolve()

    @property
    def model_dir(self) -> Path:
        return self.folder / "models" / self.name

    def video_paths(self) -> list[Path]:
        return [(self.data_root / v) if not Path(v).is_absolute() else Path(v) for v in self.videos]

    def label_sets(self) -> list[LabelSet]:
        files = find_label_files(self.data_root)
        if not files:
            raise NetworkError(
                f"no label files under {self.data_root / 'labeled-data'}; extract frames (mocap3d extract-frames) "
                "and label them first."
            )
        return [load_labels(f) for f in files]

    def training_set(self) -> TrainingSet:
        return TrainingSet.from_labels(self.label_sets(), self.data_root, self.bodyparts)

    def to_toml(self) -> str:
        head = {
            "name": self.name, "scorer": self.scorer, "data": self.data, "bodyparts": list(self.bodyparts),
            "skeleton": [list(e) for e in self.skeleton], "symmetric_pairs": [list(p) for p in self.symmetric_pairs],
            "cameras": self.cameras, "videos": self.videos, "train_fraction": self.train_fraction,
            "split_seed": self.split_seed, "pcutoff": self.pcutoff,
        }  # fmt: skip
        net = self.network.to_dict()
        for table in net.values():
            for k, v in table.items():
                if isinstance(v, tuple):
                    table[k] = list(v)
        return toml.dumps({"project": head, **net})

    def save(self, path: str | Path | None = None) -> Path:
        target = Path(path) if path else self.path
        atomic_write_text(target, self.to_toml())
        return target


def load_project(path: str | Path) -> Project:
    """Read a project TOML (see module docstring); a DeepLabCut ``config.yaml`` is imported on the fly."""
    path = Path(path)
    if path.is_dir():
        for name in ("project.toml", "config.yaml"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise NetworkError(f"{path} holds no project.toml (or DeepLabCut config.yaml); create one with "
                               "'mocap3d project create' or 'mocap3d project import'.")
    if path.suffix.lower() in (".yaml", ".yml"):
        return dlc_project(path)
    from ..io.settings import check_tables, read_toml

    data = read_toml(path, "project file", NetworkError)
    check_tables(data, ("project", "model", "augment", "train"), str(path), scalar_ok=(), error=NetworkError)
    head = dict(data.get("project", {}))
    known = set(Project.__dataclass_fields__) - {"path", "network"}
    unknown = sorted(set(head) - known)
    if unknown:
        raise NetworkError(f"{path}: unknown [project] keys {unknown}; known: {sorted(known)}.")
    if "name" not in head or "bodyparts" not in head:
        raise NetworkError(f"{path}: [project] needs at least name and bodyparts.")
    network = NetworkConfig.from_dict({k: data.get(k, {}) for k in ("model", "augment", "train")})
    return Project(path=path, network=network, **head)


def create_project(path: str | Path, name: str, bodyparts: list[str], *, videos: list[str] | None = None,
                   skeleton: list[tuple[str, str]] | None = None, preset_name: str = DEFAULT_PRESET,
                   scorer: str = "mocap3d", cameras: list[str] | None = None) -> Project:
    """A new project TOML with the given body parts (symmetric pairs inferred from left/right names)."""
    project = Project(path=Path(path), name=name, bodyparts=tuple(bodyparts), scorer=scorer,
                      skeleton=list(skeleton or []), symmetric_pairs=infer_symmetric_pairs(bodyparts),
                      videos=list(videos or []), cameras=list(cameras or []), network=preset(preset_name))
    project.save()
    return project


def _read_yaml(path: Path) -> dict[str, Any]:
    from ..io.settings import read_yaml

    data = read_yaml(path, "DeepLabCut config", NetworkError)
    if not isinstance(data, dict):
        raise NetworkError(f"{path}: not a DeepLabCut config.yaml (expected a mapping of settings).")
    return data


def dlc_project(config_yaml: str | Path, preset_name: str | None = None) -> Project:
    """A :class:`Project` view of a DeepLabCut project folder (nothing is written)."""
    config_yaml = Path(config_yaml)
    cfg = _read_yaml(config_yaml)
    if cfg.get("multianimalproject"):
        bodyparts = list(cfg.get("multianimalbodyparts") or []) + list(cfg.get("uniquebodyparts") or [])
        log.warning("%s is a multi-animal project; mocap3d trains one individual per network", config_yaml)
    else:
        bodyparts = list(cfg.get("bodyparts") or [])
    if not bodyparts:
        raise NetworkError(f"{config_yaml}: no bodyparts listed; is this a DeepLabCut config.yaml?")
    videos = []
    for key in (cfg.get("video_sets") or {}):
        p = Path(str(key))
        local = config_yaml.parent / "videos" / p.name
        if local.is_file():
            videos.append(str(local.relative_to(config_yaml.parent)))
        elif p.is_file():
            videos.append(str(p))
        else:
            log.warning("%s: video %s not found; left out of the project", config_yaml, key)
    if not videos:  # the demo's config has placeholder video paths; use what is in videos/
        videos = [str(p.relative_to(config_yaml.parent)) for p in sorted((config_yaml.parent / "videos").glob("*"))]
    net = str(cfg.get("default_net_type") or "resnet_50")
    backbone = next((v for k, v in _DLC_NETS.items() if net.startswith(k)), "resnet_50")
    if preset_name is None:  # DeepLabCut's net type needs torchvision's weights, which a fresh machine lacks
        log.info("%s: DeepLabCut's net type %s -> preset %s (ImageNet-pretrained, no download; --preset %s keeps "
                 "DeepLabCut's)", config_yaml, net, DEFAULT_PRESET, backbone)
    fraction = cfg.get("TrainingFraction") or [0.95]
    skeleton = [tuple(e) for e in (cfg.get("skeleton") or []) if len(e) == 2]
    return Project(
        path=config_yaml.parent / "project.toml",
        name=str(cfg.get("Task") or config_yaml.parent.name),
        bodyparts=tuple(str(b) for b in bodyparts),
        scorer=str(cfg.get("scorer") or "mocap3d"),
        data=".",
        skeleton=[(str(a), str(b)) for a, b in skeleton if a in bodyparts and b in bodyparts],
        symmetric_pairs=infer_symmetric_pairs(bodyparts),
        videos=videos,
        train_fraction=float(fraction[0] if isinstance(fraction, list) else fraction),
        pcutoff=float(cfg.get("pcutoff", 0.6)),
        network=preset(preset_name or DEFAULT_PRESET),
    )


def import_dlc(dlc_folder: str | Path, out: str | Path, preset_name: str | None = None) -> Project:
    """Write a project TOML at ``out`` that uses a DeepLabCut project folder in place.

    Label files and images stay where they are (``data`` points at the
    DeepLabCut folder); nothing in it is modified.
    """
    dlc_folder = Path(dlc_folder)
    config_yaml = dlc_folder / "config.yaml" if dlc_folder.is_dir() else dlc_folder
    if not config_yaml.is_file():
        raise NetworkError(f"{dlc_folder}: no config.yaml; give a DeepLabCut project folder.")
    project = dlc_project(config_yaml, preset_name)
    out = Path(out)
    if out.suffix.lower() != ".toml":
        out = out / "project.toml"
    project.path = out
    project.data = str(_relative(config_yaml.parent.resolve(), out.parent.resolve()))
    project.videos = [str((config_yaml.parent / v).resolve().relative_to(config_yaml.parent.resolve()))
                      if (config_yaml.parent / v).exists() else v for v in project.videos]
    n = len(find_label_files(project.data_root))
    log.info("imported %s: %d body parts, %d label files", config_yaml, len(project.bodyparts), n)
    project.save()
    return project


def _relative(target: Path, start: Path) -> Path:
    import os

    return Path(os.path.relpath(target, start))
