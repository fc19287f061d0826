"""Hand-written config tables with a value of the wrong type: a message naming the setting, never a TypeError."""

from __future__ import annotations

import pytest
import toml

from mocap3d.calibration.config import CalibrationConfig
from mocap3d.errors import CalibrationError, MocapError
from mocap3d.nn.config import NetworkConfig, NetworkError
from mocap3d.pipeline.config import ProjectError, load_config
from mocap3d.triangulation.config import TriangulationConfig


@pytest.mark.parametrize(
    ("table", "needles"),
    [
        ({"score_threshold": "high"}, ["`score_threshold` must be a number", "'high'"]),
        ({"min_cameras": "2"}, ["`min_cameras` must be an integer", "'2'"]),
        ({"min_cameras": 2.5}, ["`min_cameras` must be an integer", "2.5"]),
        ({"undistort": "yes"}, ["`undistort` must be true or false"]),
        ({"max_excluded": "one"}, ["`max_excluded` must be an integer, got 'one'"]),
        ({"individual": 1.5}, ["`individual` must be a string or an integer"]),
        ({"reproj_loss": 3}, ["`reproj_loss` must be a string"]),
    ],
)
def test_triangulation_table_with_a_wrong_type(table, needles):
    with pytest.raises(MocapError) as info:
        TriangulationConfig.from_dict(table, "tri.toml")
    message = str(info.value)
    assert message.startswith("tri.toml: ") and all(n in message for n in needles), message


def test_toml_integers_are_accepted_where_numbers_are_meant():
    config = TriangulationConfig.from_dict({"score_threshold": 0, "reproj_threshold": 20, "chunk_frames": 500})
    assert isinstance(config.score_threshold, float) and config.reproj_threshold == 20.0
    assert isinstance(config.chunk_frames, int)
    # constraints keep their own parser ("a-b" strings or pairs)
    pairs = TriangulationConfig.from_dict({"constraints": ["l_hip-l_knee", ["l_knee", "l_ankle"]]}).constraints
    assert pairs == (("l_hip", "l_knee"), ("l_knee", "l_ankle"))


def test_calibration_and_network_tables_with_a_wrong_type():
    with pytest.raises(CalibrationError, match=r"`outlier_factors` must be a list of \(a number\), got \['x'\]"):
        CalibrationConfig.from_dict({"outlier_factors": ["x"]}, "calib.toml")
    assert CalibrationConfig.from_dict({"outlier_factors": [3, 2.5]}).outlier_factors == (3.0, 2.5)
    expected = r"\[AugmentConfig\]: `crop_size` must be a list of 2 \(an integer, an integer\)"
    with pytest.raises(NetworkError, match=expected):
        NetworkConfig.from_dict({"augment": {"crop_size": [192]}})
    assert NetworkConfig.from_dict({"augment": {"crop_size": [192, 160]}}).augment.crop_size == (192, 160)


def test_project_config_with_a_wrong_type(tmp_path):
    (tmp_path / "config.toml").write_text(toml.dumps({"project": {"fps": "fast"}}))
    with pytest.raises(ProjectError, match=r"\[project\]: `fps` must be a number, got 'fast'"):
        load_config(tmp_path)
