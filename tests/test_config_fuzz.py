"""Property-based fuzzing of the settings and calibration loaders (hypothesis, fixed seed, bounded).

Whatever the bytes of a calibration, project, triangulation, filter, calibration-settings
or board file, a loader either returns a valid object or raises a MocapError (one
sentence for the user): never another exception. A calibration that loads has only
finite, plausible values and true rotations.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import toml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mocap3d.calibration.boards import load_board
from mocap3d.calibration.config import CalibrationConfig
from mocap3d.camera import rodrigues
from mocap3d.errors import MocapError
from mocap3d.filters.config import load_filter_config
from mocap3d.io.calibration import MAX_CALIBRATION_VALUE, load_calibration, rig_to_anipose_dict
from mocap3d.io.settings import read_yaml
from mocap3d.pipeline.config import load_config
from mocap3d.sample import make_sample
from mocap3d.triangulation.config import TriangulationConfig

FUZZ = settings(derandomize=True, max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip

REPO = Path(__file__).resolve().parents[1]


def _loaders(folder: Path):
    """Every loader of a settings file, each given the file path (the project loader: its folder)."""
    return {
        "calibration": load_calibration,
        "triangulation": TriangulationConfig.from_toml,
        "filters": load_filter_config,
        "calibration settings": CalibrationConfig.from_toml,
        "board": load_board,
        "project": lambda path: load_config(path.parent),
    }


def _never_crashes(path: Path) -> None:
    for name, load in _loaders(path.parent).items():
        try:
            load(path)
        except MocapError as exc:
            assert str(exc).strip(), name
        except RecursionError:
            pytest.fail(f"{name}: RecursionError on {path.read_bytes()[:200]!r}")


# TOML-ish text: the tokens that make the parser's corner cases (nested arrays, trailing commas, brackets).
TOKENS = ["[", "]", "[[", "]]", "{", "}", ",", "=", " ", "\n", '"', "'", ".", "-", "+", "1", "1.5", "-2.5", "1e300",
          "nan", "inf", "true", "x", "cam_0", "matrix", "rotation", "triangulation", "filter3d", "type", "#", "\\",
          '"""', "0x1", "l_hip", "project", "calibration", "board", "[[filter3d]]", "[triangulation]"]
token_soup = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)

# Almost-TOML: lines of tables and key = value with nested arrays, trailing commas and stray brackets, the
# shapes that make the `toml` reader raise IndexError/ValueError instead of its own error.
atoms = st.sampled_from(['"pelvis"', "'l_hip'", "1.5", "-2.5", "1", "1e300", "nan", "true", '""', "x", "[]", "{}"])
value_text = st.recursive(
    atoms,
    lambda inner: st.tuples(st.lists(inner, max_size=4), st.sampled_from(["", ",", ",]", " ", ",,"]),
                            st.sampled_from(["[", "[ ", "{a = "])).map(
        lambda t: t[2] + ", ".join(t[0]) + t[1] + ("]" if t[2].startswith("[") else "}")),
    max_leaves=8,
)  # fmt: skip
line = st.one_of(
    st.tuples(st.sampled_from(["l_hip", "method", "type", "window", "matrix", "a.b", '"q"']), value_text).map(
        lambda kv: f"{kv[0]} = {kv[1]}"),
    st.sampled_from(["[triangulation]", "[[filter3d]]", "[angles]", "[cam_0]", "[calibration]", "[project]",
                     "[[filter2d]]", "[board]", "[a.b]", "[[x]]", "[ triangulaton ]"]),
)  # fmt: skip
almost_toml = st.lists(line, max_size=6).map("\n".join)
toml_text = st.one_of(token_soup, almost_toml)


@FUZZ
@given(text=toml_text)
def test_random_toml_text_never_crashes_a_loader(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "config.toml"
    path.write_text(text)
    _never_crashes(path)


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_never_crash_a_loader(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("bytes")
    path = folder / "config.toml"
    path.write_bytes(data)
    _never_crashes(path)
    yaml_path = folder / "config.yaml"
    yaml_path.write_bytes(data)
    try:
        read_yaml(yaml_path)
    except MocapError:
        pass


# Structured configs: real table names (and near misses) holding values of every type.
scalars = st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=False), st.text(max_size=8), st.booleans())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from(["type", "window", "method",
                                                                                        "fps", "x", "cutoff"]),
                                                                       inner, max_size=3)),
                      max_leaves=8)  # fmt: skip
names = st.sampled_from(["project", "triangulation", "triangulaton", "filter2d", "filter3d", "filter3D", "angles",
                         "calibration", "sync", "export", "network", "method", "fps", "board", "Triangulation"])
documents = st.dictionaries(names, values, max_size=5)


@FUZZ
@given(doc=documents)
def test_structured_configs_never_crash_a_loader(tmp_path_factory, doc):
    try:
        text = toml.dumps(doc)
    except Exception:  # noqa: BLE001 - the writer cannot express every value (mixed arrays): nothing to test
        return
    folder = tmp_path_factory.mktemp("doc")
    path = folder / "config.toml"
    path.write_text(text)
    _never_crashes(path)


# --------------------------------------------------------------------------- mutated calibrations
@pytest.fixture(scope="module")
def calibration_doc():
    return rig_to_anipose_dict(make_sample(n_frames=2, seed=0).rig)


bad_numbers = st.sampled_from([0.0, -1.0, 1e300, -1e300, float("nan"), float("inf"), 1e-300, 5e8])
mutation = st.tuples(
    st.sampled_from(["cam_0", "cam_1", "cam_2", "cam_3"]),
    st.sampled_from(["matrix", "distortions", "rotation", "translation", "size", "name", "fisheye"]),
    st.one_of(
        st.tuples(st.just("number"), st.integers(0, 8), bad_numbers),
        st.tuples(st.just("replace"), st.just(0), st.one_of(scalars, st.lists(scalars, max_size=4),
                                                            st.lists(st.lists(st.floats(-2, 2), min_size=3,
                                                                              max_size=3), min_size=3, max_size=3))),
        st.tuples(st.just("delete"), st.just(0), st.just(None)),
    ),
)  # fmt: skip


def _mutate(doc: dict, cam: str, key: str, change) -> dict:
    doc = copy.deepcopy(doc)
    kind, index, value = change
    if kind == "delete":
        doc[cam].pop(key, None)
    elif kind == "replace":
        doc[cam][key] = value
    elif key in doc[cam]:
        flat = np.asarray(doc[cam][key], dtype=object).ravel()
        if flat.size and isinstance(flat[0], (int, float)) and not isinstance(flat[0], bool):
            arr = np.asarray(doc[cam][key], dtype=np.float64)
            arr.reshape(-1)[index % arr.size] = value
            doc[cam][key] = arr.tolist()
    return doc


@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_calibrations_load_valid_or_say_why(tmp_path_factory, calibration_doc, mutations):
    doc = calibration_doc
    for cam, key, change in mutations:
        doc = _mutate(doc, cam, key, change)
    try:
        text = toml.dumps(doc)
    except Exception:  # noqa: BLE001 - not expressible in TOML: nothing to load
        return
    path = tmp_path_factory.mktemp("calib") / "calibration.toml"
    path.write_text(text)
    try:
        rig = load_calibration(path)
    except MocapError as exc:
        assert "cam_" in str(exc) or "calibration" in str(exc), str(exc)
        return
    for arr in (rig.K, rig.dist, rig.rvec, rig.tvec):
        assert np.all(np.isfinite(arr)) and np.abs(arr).max() <= MAX_CALIBRATION_VALUE
    assert np.all(rig.K[:, 0, 0] > 0) and np.all(rig.K[:, 1, 1] > 0) and np.all(rig.sizes > 0)
    R = rodrigues(rig.rvec)
    np.testing.assert_allclose(R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape), atol=1e-6)
