"""Hand-written config tables with a value of the wrong type: a message naming the setting, never a TypeError."""

from __future__ import annotations

import pytest
import toml

from mocap3d.calibration.config import CalibrationConfig
from mocap3d.errors import CalibrationError, MocapError
from mocap3d.io.matching import InputMatching
from mocap3d.nn.config import NetworkConfig, NetworkError
from mocap3d.pipeline.config import ProjectError, load_config
from mocap3d.triangulation.config import PRESETS, TriangulationConfig


@pytest.mark.parametrize(
    ("table", "needles"),
    [
        ({"score_threshold": "high"}, ["`score_threshold` must be a number", "'high'"]),
        ({"min_cameras": "2"}, ["`min_cameras` must be an integer", "'2'"]),
        ({"min_cameras": 2.5}, ["`min_cameras` must be an integer", "2.5"]),
        ({"undistort": "yes"}, ["`undistort` must be true or false"]),
        ({"max_excluded": "one"}, ["`max_excluded` must be an integer, got 'one'"]),
        ({"reproj_loss": 3}, ["`reproj_loss` must be a string"]),
    ],
)
def test_triangulation_table_with_a_wrong_type(table, needles):
    with pytest.raises(MocapError) as info:
        TriangulationConfig.from_dict(table, "tri.toml")
    message = str(info.value)
    assert message.startswith("tri.toml: ") and all(n in message for n in needles), message


def test_input_matching_is_read_from_the_triangulation_table():
    """cam_regex and individual are input matching, written in [triangulation] as anipose does."""
    table = {"method": "dlt", "cam_regex": "(cam[0-9])_", "individual": "mouse2"}
    assert TriangulationConfig.from_dict(table).method == "dlt"  # the matching keys are accepted there
    assert InputMatching.from_table(table) == InputMatching(cam_regex="(cam[0-9])_", individual="mouse2")
    with pytest.raises(MocapError, match="tri.toml: `individual` must be a string or an integer"):
        InputMatching.from_table({"individual": 1.5}, "tri.toml")


def test_one_coercion_for_every_config():
    """Text is never a number, in any config (it was accepted by the filters only); integral floats are integers."""
    from mocap3d.errors import FilterError
    from mocap3d.filters.config import step_from_dict

    with pytest.raises(FilterError, match="`cutoff` must be a number, got '6'"):
        step_from_dict({"type": "butterworth", "cutoff": "6"}, "3d")
    with pytest.raises(MocapError, match="`min_cameras` must be an integer, got '2'"):
        TriangulationConfig.from_dict({"min_cameras": "2"})
    assert TriangulationConfig.from_dict({"min_cameras": 3.0}).min_cameras == 3
    assert step_from_dict({"type": "butterworth", "order": 4.0}, "3d").order == 4
    assert CalibrationConfig.from_dict({"min_views": 5.0}).min_views == 5


def test_presets_are_instances_refined_by_the_table():
    config = TriangulationConfig.from_dict({"preset": "pose2sim", "reproj_threshold": 20})
    assert config == PRESETS["pose2sim"].replace(reproj_threshold=20.0)
    with pytest.raises(MocapError, match="unknown preset 'fast'; choose one of default, pose2sim, anipose"):
        TriangulationConfig.from_dict({"preset": "fast"}, "tri.toml")
    assert CalibrationConfig.from_dict({"preset": "fast", "max_nfev": 50}).outlier_factors == (3.0,)


def test_configs_are_frozen_and_replace_checks_again():
    import dataclasses

    cfg = NetworkConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.iterations = 5  # type: ignore[misc]
    with pytest.raises(NetworkError, match="iterations must be at least 1"):
        cfg.train.replace(iterations=0)


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


def test_project_tables_are_configs_and_network_options_are_checked_against_the_analyzer(tmp_path):
    """Every config.toml table is a frozen Config read through the one coercion (errors name the table and key);
    [network]'s analyzer is typed, its other keys are the analyzer's options, checked against its signature."""
    import dataclasses

    from mocap3d.config import Config
    from mocap3d.pipeline.config import DEFAULT_ANALYZER, NetworkTable, ProjectConfig

    (tmp_path / "config.toml").write_text(toml.dumps({
        "project": {"fps": 50}, "network": {"analyzer": "pkg.mod:run", "model": "m", "device": "cpu"},
        "sync": {"method": "keypoints", "max_offset": 30.0}, "export": {"formats": ["c3d"]},
    }))  # fmt: skip
    config = ProjectConfig.from_toml(tmp_path / "config.toml")
    assert config == load_config(tmp_path)
    assert all(isinstance(getattr(config, t), Config) for t in ("project", "network", "sync", "export"))
    assert config.project.fps == 50.0 and config.sync.max_offset == 30 and config.export.formats == ("c3d",)
    assert config.network.spec == "pkg.mod:run" and config.network.kwargs() == {"model": "m", "device": "cpu"}
    # the manifest's parameters are the table as written, as before it was typed
    assert config.params("network") == {"network": {"analyzer": "pkg.mod:run", "device": "cpu", "model": "m"}}
    assert ProjectConfig().network.spec == DEFAULT_ANALYZER and ProjectConfig().params("network") == {"network": {}}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.network.analyzer = "x:y"  # type: ignore[misc]
    for table, message in [
        ({"network": {"analyzer": 3}}, r"\[network\]: `analyzer` must be a string, got 3"),
        ({"network": {"analyzer": "no_function"}}, r"\[network\]: \[network\] analyzer = 'no_function' does not name"),
        ({"sync": {"max_ofset": 3}}, r"\[sync\]: unknown setting\(s\) max_ofset \(did you mean 'max_offset'\?\)"),
        ({"export": {"trc_yup": "yes"}}, r"\[export\]: `trc_yup` must be true or false, got 'yes'"),
    ]:
        with pytest.raises(ProjectError, match=message):
            ProjectConfig.from_dict(table)

    def analyzer(videos, out_dir, model, device="cpu"):
        return []

    NetworkTable.from_dict({"model": "m"}).check_options(analyzer, "session s1")
    with pytest.raises(ProjectError, match=r"session s1: the \[network\] table does not fit .*are model, device"):
        NetworkTable.from_dict({"model": "m", "devise": "cpu"}).check_options(analyzer, "session s1")
    with pytest.raises(ProjectError, match="missing a required argument: 'model'"):
        NetworkTable().check_options(analyzer, "session s1")
