"""DeepLabCut label files (CollectedData_<scorer>.h5/.csv): reading, writing, merging, errors."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mocap3d.errors import LabelFileError, MocapError
from mocap3d.io.labels import (
    SINGLE,
    LabelSet,
    Predictions,
    find_label_files,
    label_file_path,
    load_labels,
    load_predictions,
    merge_labels,
    missing_images,
    save_labels,
    save_predictions,
)
from mocap3d.io.pose2d import load_dlc, save_dlc
from mocap3d.poses import Track2D

OPENFIELD = "deeplabcut/examples/openfield-Pranav-2018-10-30"


@pytest.fixture
def openfield(dataset):
    return dataset(OPENFIELD)


def _small(index_style="multi", multi=False) -> LabelSet:
    images = [f"labeled-data/walk/img{i:03d}.png" for i in range(4)]
    individuals = ["m1", "m2"] if multi else None
    labels = LabelSet.empty(images, ["nose", "ear", "tail"], "alice", individuals, index_style)
    pts = labels.points.copy()
    pts[1, 0, 0] = [10.25, 20.5]
    pts[2, -1, 2] = [300.125, 1.0 / 3.0]
    pts[3, 0, 1] = [0.0, 479.999]
    return labels.with_points(pts)


# --------------------------------------------------------------------------- real DeepLabCut files


def test_reads_deeplabcut_example_h5_and_csv(openfield):
    folder = openfield / "labeled-data" / "m4s1"
    h5 = load_labels(folder / "CollectedData_Pranav.h5")
    text = load_labels(folder / "CollectedData_Pranav.csv")
    assert h5.scorer == "Pranav" and h5.bodyparts == ("snout", "leftear", "rightear", "tailbase")
    assert h5.individuals == (SINGLE,) and not h5.multi_animal
    assert h5.points.shape == (116, 1, 4, 2) and h5.index_style == "string"
    assert h5.images[0] == "labeled-data/m4s1/img0000.png" and h5.images[-1] == "labeled-data/m4s1/img0115.png"
    assert h5.same_as(text)
    # Cell by cell against the CSV text, parsed here with the csv module alone.
    rows = list(csv.reader((folder / "CollectedData_Pranav.csv").read_text().splitlines()))
    body = np.array([[float(v) for v in r[1:]] for r in rows[3:]])
    np.testing.assert_array_equal(h5.points.reshape(116, 8), body)
    assert [r[0] for r in rows[3:]] == list(h5.images)
    assert missing_images(h5, openfield) == []
    assert find_label_files(openfield) == [folder / "CollectedData_Pranav.h5"]


def test_deeplabcut_example_survives_our_writer(openfield, tmp_path):
    labels = load_labels(openfield / "labeled-data" / "m4s1" / "CollectedData_Pranav.h5")
    for style in ("string", "multi"):
        out = tmp_path / style / "CollectedData_Pranav.h5"
        h5, csv_path = save_labels(dataclasses.replace(labels, index_style=style), out)
        assert load_labels(h5).same_as(load_labels(csv_path))
        back = load_labels(h5)
        assert back.index_style == style and back.images == labels.images
        np.testing.assert_array_equal(back.points, labels.points)
    # Our string-index CSV is byte-identical to DeepLabCut's own file.
    original = (openfield / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv").read_text()
    assert (tmp_path / "string" / "CollectedData_Pranav.csv").read_text() == original


def test_existing_dlc_reader_agrees(openfield):
    path = openfield / "labeled-data" / "m4s1" / "CollectedData_Pranav.h5"
    labels, track = load_labels(path), load_dlc(path)
    np.testing.assert_array_equal(labels.points[:, 0], track.points[:, 0])


# --------------------------------------------------------------------------- layout and round trips


def test_dlc22_layout_three_level_index(tmp_path):
    labels = _small("multi")
    h5, csv_path = save_labels(labels, tmp_path / "CollectedData_alice.csv")
    df = pd.read_hdf(h5)  # what DeepLabCut does: no key, one table in the store
    assert df.index.nlevels == 3 and tuple(df.index[1]) == ("labeled-data", "walk", "img001.png")
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert df.loc[("labeled-data", "walk", "img001.png"), ("alice", "nose", "x")] == 10.25
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("scorer,,,alice,alice") and lines[2].startswith("coords,,,x,y,x,y")
    assert lines[3] == "labeled-data,walk,img000.png" + "," * 6  # an image without labels: empty cells
    assert lines[4].startswith("labeled-data,walk,img001.png,10.25,20.5,,")


@pytest.mark.parametrize("style", ["multi", "string"])
@pytest.mark.parametrize("multi", [False, True])
@pytest.mark.parametrize("suffix", [".h5", ".csv"])
def test_round_trip(tmp_path, style, multi, suffix):
    labels = _small(style, multi)
    save_labels(labels, tmp_path / "CollectedData_alice.h5")
    back = load_labels((tmp_path / "CollectedData_alice.h5").with_suffix(suffix))
    assert back.same_as(labels)
    assert back.multi_animal == multi and back.points.flags.writeable is False


def test_multi_animal_columns(tmp_path):
    h5, _ = save_labels(_small(multi=True), tmp_path / "CollectedData_alice.h5")
    df = pd.read_hdf(h5)
    assert list(df.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert df.iloc[2][("alice", "m2", "tail", "y")] == 1.0 / 3.0


@settings(max_examples=25, deadline=None)
@given(
    mask=st.lists(st.booleans(), min_size=4 * 3, max_size=4 * 3),
    xy=st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=24, max_size=24),
)
def test_round_trip_property(tmp_path_factory, mask, xy):
    labels = LabelSet.empty([f"labeled-data/v/{i}.png" for i in range(4)], ["a", "b", "c"], "s")
    pts = np.array(xy).reshape(4, 1, 3, 2)
    pts[~np.array(mask).reshape(4, 1, 3)] = np.nan
    labels = labels.with_points(pts)
    folder = tmp_path_factory.mktemp("prop")
    h5, csv_path = save_labels(labels, folder / "CollectedData_s.h5")
    assert load_labels(h5).same_as(labels) and load_labels(csv_path).same_as(labels)


def test_windows_paths_and_half_points_normalised():
    labels = LabelSet(
        ("labeled-data\\v\\a.png",), ("nose",), (SINGLE,), np.array([[[[1.0, np.nan]]]]), "s", index_style="string"
    )
    assert labels.images == ("labeled-data/v/a.png",)
    assert not labels.labelled.any() and np.isnan(labels.points).all()


def test_napari_key_and_file_name(tmp_path):
    labels = _small()
    df = pd.DataFrame(
        labels.points.reshape(4, -1),
        index=pd.MultiIndex.from_tuples([tuple(i.split("/")) for i in labels.images]),
        columns=pd.MultiIndex.from_product([["alice"], labels.bodyparts, ["x", "y"]]),
    )
    df.to_hdf(tmp_path / "CollectedData_alice.h5", key="keypoints", mode="w")  # napari-deeplabcut's key
    assert load_labels(tmp_path / "CollectedData_alice.h5").same_as(labels)
    assert label_file_path(tmp_path, "alice") == tmp_path / "CollectedData_alice.h5"


# --------------------------------------------------------------------------- merging


def test_merge_corrections_replace_add_and_keep():
    base = _small()
    corr = LabelSet.empty([base.images[1], "labeled-data/walk/img900.png"], ["tail", "nose"], "bob")
    pts = corr.points.copy()
    pts[0, 0, 1] = [11.0, 21.0]  # correct img001 nose
    pts[1, 0, 0] = [5.0, 6.0]  # new image, tail
    merged = merge_labels(base, corr.with_points(pts))
    assert merged.images == base.images + ("labeled-data/walk/img900.png",)
    assert merged.scorer == "alice" and merged.bodyparts == base.bodyparts
    np.testing.assert_array_equal(merged.points[1, 0, 0], [11.0, 21.0])
    np.testing.assert_array_equal(merged.points[4, 0, 2], [5.0, 6.0])
    assert np.isnan(merged.points[4, 0, :2]).all()
    # Untouched points (and NaN in the corrections) keep the base's labels.
    np.testing.assert_array_equal(merged.points[:4, :, 1:], base.points[:, :, 1:])
    np.testing.assert_array_equal(merged.points[[0, 2, 3]], base.points[[0, 2, 3]])


def test_merge_multi_animal_subset_of_individuals():
    base = _small(multi=True)
    corr = LabelSet.empty([base.images[0]], ["ear"], "bob", individuals=["m2"])
    merged = merge_labels(base, corr.with_points(np.array([[[[7.0, 8.0]]]])))
    np.testing.assert_array_equal(merged.points[0, 1, 1], [7.0, 8.0])
    assert np.isnan(merged.points[0, 0]).all()


def test_merge_other_body_parts_is_an_error_that_names_them():
    corr = LabelSet.empty(["labeled-data/walk/img000.png"], ["nose", "whisker"], "bob")
    with pytest.raises(LabelFileError, match="whisker.*config.yaml"):
        merge_labels(_small(), corr)


# --------------------------------------------------------------------------- errors


def test_analysis_output_is_not_labels(tmp_path):
    track = Track2D(np.ones((3, 1, 2, 2)), np.full((3, 1, 2), 0.9), ("a", "b"), ("individual0",))
    save_dlc(track, tmp_path / "videoDLC_resnet50.h5")
    with pytest.raises(LabelFileError, match="predictions"):
        load_labels(tmp_path / "videoDLC_resnet50.h5")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("CollectedData_x.h5", b"not an hdf5 file", "corrupt"),
        ("CollectedData_x.csv", b"a,b\n1,2\n", "first rows must start with 'scorer'"),
        ("CollectedData_x.csv", b"scorer,s,s\nbodyparts,a,a\ncoords,x,y\nimg.png,1\n", "truncated or damaged"),
        ("CollectedData_x.csv", b"scorer,s,s\nbodyparts,a,a\ncoords,x,z\nimg.png,1,2\n", "coords must be x and y"),
        ("CollectedData_x.txt", b"", "end in .h5 or .csv"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LabelFileError, match=message):
        load_labels(path)
    with pytest.raises(MocapError, match="no such label file"):
        load_labels(tmp_path / "missing.h5")


def test_bad_label_sets():
    with pytest.raises(LabelFileError, match="repeated bodyparts"):
        LabelSet.empty(["labeled-data/v/a.png"], ["a", "a"], "s")
    with pytest.raises(LabelFileError, match="shape"):
        LabelSet(("labeled-data/v/a.png",), ("a",), (SINGLE,), np.zeros((2, 1, 1, 2)), "s")
    with pytest.raises(LabelFileError, match="index_style='string'"):
        save_labels(LabelSet.empty(["img.png"], ["a"], "s"), "/tmp/never-written/CollectedData_s.h5")


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    labels = _small()
    h5, csv_path = save_labels(labels, tmp_path / "CollectedData_alice.h5")
    before = csv_path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    changed = labels.with_points(np.where(labels.labelled[..., None], labels.points + 1, np.nan))
    with pytest.raises(OSError, match="disk full"):
        save_labels(changed, h5)
    assert csv_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CollectedData_alice.csv", "CollectedData_alice.h5"]


# --------------------------------------------------------------------------- predictions (refinement)


@pytest.mark.parametrize("individuals", [(SINGLE,), ("m1", "m2")])
@pytest.mark.parametrize("with_images", [True, False])
def test_predictions_round_trip(tmp_path, individuals, with_images):
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 500, (3, len(individuals), 2, 2))
    points[1, 0, 1] = np.nan
    likelihood = rng.uniform(0, 1, (3, len(individuals), 2))
    images = tuple(f"labeled-data/v/img{i}.png" for i in range(3)) if with_images else None
    pred = Predictions(images, ("nose", "tail"), individuals, points, likelihood, "net")
    back = load_predictions(save_predictions(pred, tmp_path / "machinelabels-iter0.h5"))
    assert back.images == images and back.individuals == individuals and back.bodyparts == ("nose", "tail")
    np.testing.assert_array_equal(back.points, points)
    np.testing.assert_array_equal(back.likelihood, likelihood)
    with pytest.raises(LabelFileError, match="predictions, not human labels"):
        load_labels(tmp_path / "machinelabels-iter0.h5")


def test_predictions_without_likelihood(tmp_path):
    """Guesses written as x, y only (as a label table) read as predictions with likelihood 1 where given."""
    labels = _small()
    h5, _ = save_labels(labels, tmp_path / "machinelabels-iter0.h5")
    pred = load_predictions(h5)
    np.testing.assert_array_equal(pred.points, labels.points)
    np.testing.assert_array_equal(pred.likelihood, np.where(labels.labelled, 1.0, np.nan))
    assert pred.images == labels.images
    track = Track2D(np.ones((2, 1, 1, 2)), np.ones((2, 1, 1)), ("a",), ("individual0",))
    save_dlc(track, tmp_path / "x.csv")
    text = (tmp_path / "x.csv").read_text().replace("likelihood", "z")
    (tmp_path / "x.csv").write_text(text)
    with pytest.raises(LabelFileError, match=r"need x, y \[and likelihood\]"):
        load_predictions(tmp_path / "x.csv")


def test_file_written_by_pandas2_as_napari_deeplabcut_does():
    """Regression file made with pandas 2.3.3 (DeepLabCut's pandas), fixed format, key 'keypoints', by::

        idx = pd.MultiIndex.from_tuples([("labeled-data", "v", "a.png"), ("labeled-data", "v", "b.png")])
        cols = pd.MultiIndex.from_product([["me"], ["m1", "m2"], ["nose", "tail"], ["x", "y"]],
                                          names=["scorer", "individuals", "bodyparts", "coords"])
        df = pd.DataFrame(np.arange(16.).reshape(2, 8), index=idx, columns=cols); df.iloc[0, :4] = np.nan
        df.to_hdf("pandas2_napari_multianimal.h5", key="keypoints", mode="w")

    (pandas 2.3 also reads every file of ours: checked by hand for both index styles, maDLC and predictions.)
    """
    from pathlib import Path

    labels = load_labels(Path(__file__).parents[1] / "data" / "labels" / "pandas2_napari_multianimal.h5")
    assert labels.images == ("labeled-data/v/a.png", "labeled-data/v/b.png") and labels.index_style == "multi"
    assert labels.individuals == ("m1", "m2") and labels.bodyparts == ("nose", "tail") and labels.multi_animal
    expected = np.arange(16.0).reshape(2, 2, 2, 2)
    expected[0, 0] = np.nan
    np.testing.assert_array_equal(labels.points, expected)
