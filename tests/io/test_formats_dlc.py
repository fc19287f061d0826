"""DeepLabCut hand-off: analysis files named as DeepLabCut's tools find them, scorers kept (no DLC install)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mocap3d.io.matching import camera_for_file
from mocap3d.io.pose2d import dlc_analysis_name, dlc_scorer, load_track2d, save_dlc
from mocap3d.poses import Track2D

DLC_SCORER = "DLC_resnet50_openfieldOct30shuffle1_1030000"
_TRACKERS = ("_sk", "_bx", "_el")


def dlc_finds(folder: Path, videoname: str, scorer: str, filtered: bool = False) -> list[str]:
    """DeepLabCut 3.0's ``auxiliaryfunctions.find_analyzed_data`` rule (no tracker), restated: an ``.h5`` whose
    name starts with ``<video stem><scorer>`` (or the pre-2.1 ``DeepCut`` spelling), without ``skeleton``, whose
    stem (``_filtered`` removed) does not end in a tracker suffix, and with ``filtered`` in it exactly when asked."""
    legacy = scorer.replace("DLC", "DeepCut")
    found = []
    for file in sorted(p.name for p in folder.glob("*.h5")):
        stem = Path(file).stem.replace("_filtered", "")
        if ((file.startswith(videoname + scorer) or file.startswith(videoname + legacy)) and "skeleton" not in file
                and not any(stem.endswith(t) for t in _TRACKERS) and (filtered == ("filtered" in file))):  # fmt: skip
            found.append(file)
    return found


def _track() -> Track2D:
    rng = np.random.default_rng(4)
    pts = rng.normal(size=(5, 1, 3, 2)) * 50 + 200
    pts[1, 0, 2] = np.nan
    return Track2D(pts, np.where(np.isfinite(pts).all(-1), rng.random((5, 1, 3)), 0.0), ("snout", "ear", "tail"))


@pytest.mark.parametrize("scorer", ["mocap3d", "mocap3d_hrnet", DLC_SCORER])
def test_analysis_names_follow_deeplabcuts_rule(tmp_path, scorer):
    from mocap3d.nn.videos import dlc_scorer_name, output_path

    out = output_path(tmp_path / "videos" / "mouse1.mp4", tmp_path, scorer)
    full = dlc_scorer_name(scorer)
    assert full.startswith("DLC") and out.name == f"mouse1{full}.h5" == dlc_analysis_name("mouse1.mp4", scorer)
    save_dlc(_track(), out, scorer=full)
    save_dlc(_track(), tmp_path / dlc_analysis_name("mouse1.mp4", scorer, filtered=True), scorer=full)
    assert dlc_finds(tmp_path, "mouse1", full) == [out.name]
    assert dlc_finds(tmp_path, "mouse1", full, filtered=True) == [f"mouse1{full}_filtered.h5"]
    # DeepLabCut then indexes the table by that scorer
    df = pd.read_hdf(out, "df_with_missing")
    assert df[full].shape == (5, 9)
    assert dlc_scorer(out) == full


def test_the_old_name_was_invisible_to_deeplabcut(tmp_path):
    save_dlc(_track(), tmp_path / "mouse1_mocap3d.h5", scorer="mocap3d")
    assert dlc_finds(tmp_path, "mouse1", "DLC_mocap3d") == []


def test_filter_2d_keeps_the_input_scorer(tmp_path):
    from mocap3d.filters.config import LikelihoodFilter
    from mocap3d.filters.run import filter_2d_files

    src = save_dlc(_track(), tmp_path / f"mouse1{DLC_SCORER}.h5", scorer=DLC_SCORER)
    csv = save_dlc(_track(), tmp_path / f"mouse2{DLC_SCORER}.csv", scorer=DLC_SCORER)
    out = tmp_path / "filtered"
    out.mkdir()
    filter_2d_files([src, csv], out, [LikelihoodFilter(threshold=0.5)])
    for name in (src.name, csv.name):
        assert dlc_scorer(out / name) == DLC_SCORER
    df = pd.read_hdf(out / src.name, "df_with_missing")
    assert df[DLC_SCORER].shape == (5, 9)  # no KeyError in DeepLabCut's code
    kept = load_track2d(out / src.name)
    assert np.isnan(kept.points[_track().scores < 0.5]).all()


@pytest.mark.parametrize("name, camera", [
    (f"cam1{DLC_SCORER}.h5", "cam1"), ("session_cam2DLC_mocap3d.h5", "cam2"), ("cam-ADLC_mocap3d_filtered.h5", "A"),
    (f"cam1{DLC_SCORER.replace('DLC', 'DeepCut')}.h5", "cam1"),
])  # fmt: skip
def test_cameras_are_found_in_deeplabcut_names(name, camera):
    assert camera_for_file(name, ["A", "cam1", "cam2", "B"]) == camera
