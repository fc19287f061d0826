"""``mocap3d run`` with several animals: ``[triangulation] individuals`` through every stage, resumable (issue #18)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.io.pose3d import load_poses3d
from mocap3d.multi.output import load_individuals
from mocap3d.pipeline import ProjectConfig, run_project

FRAMES = 90

CONFIG = """\
[project]
fps = 60.0
units = "mm"

[triangulation]
method = "robust"
individuals = "all"

[[filter3d]]
type = "butterworth"
cutoff = 6.0
order = 4

[angles]
l_knee = ["l_hip", "l_knee", "l_ankle"]
r_knee = ["r_hip", "r_knee", "r_ankle"]

[export]
formats = ["trc", "nc", "nwb"]
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One session of two walkers whose DeepLabCut labels are swapped differently in every camera."""
    from mocap3d.synthetic.herd import make_herd, write_herd_session

    root = tmp_path_factory.mktemp("herd-template") / "project"
    write_herd_session(make_herd(n_individuals=2, n_frames=FRAMES, seed=11, swap_rate=0.05), root / "pair01")
    (root / "config.toml").write_text(CONFIG)
    return root


@pytest.fixture
def project(template, tmp_path) -> Path:
    dst = tmp_path / "project"
    shutil.copytree(template, dst)
    return dst


def _matched_error(got: dict, truth: dict) -> dict[str, float]:
    """Each true walker's median error (mm) against the individual nearest to it."""
    out = {}
    for name, t in truth.items():
        errs = [np.nanmedian(np.linalg.norm(p.points - t.points, axis=-1)) for p in got.values()]
        out[name] = float(min(errs))
    return out


def test_config_key_individuals():
    assert ProjectConfig.from_dict({"triangulation": {"individuals": "all"}}).inputs.individuals == "all"
    cfg = ProjectConfig.from_dict({"triangulation": {"individuals": 3}})
    assert cfg.inputs.individuals == 3 and cfg.inputs.n_individuals == 3
    assert ProjectConfig.from_dict({}).inputs.individuals is None  # one animal stays the default
    # a single-animal project's stage parameters do not change (its manifests stay valid)
    assert "individuals" not in ProjectConfig.from_dict({}).params("triangulation")["triangulation"]
    for bad in ("some", 0, -2, True):
        with pytest.raises(Exception, match="individuals"):
            ProjectConfig.from_dict({"triangulation": {"individuals": bad}})


def test_run_takes_every_individual_through_every_stage(project):
    report = run_project(project, workers=0, progress=False)
    assert not report.failed, report.table()
    [result] = report.sessions
    assert {s.stage: s.status for s in result.stages} == {
        "calibrate": "not needed", "train": "not needed", "analyze": "not needed", "sync": "not needed",
        "filter2d": "not needed", "triangulate": "done", "filter3d": "done", "angles": "done", "gait": "not needed",
        "export": "done",
    }  # fmt: skip
    session = project / "pair01"
    truth = load_individuals(session / "ground_truth.h5")
    raw = load_individuals(session / "pose-3d" / "pair01.h5")
    filtered = load_individuals(session / "pose-3d-filtered" / "pair01.h5")
    assert list(raw) == list(filtered) == ["individual_0", "individual_1"]
    for got in (raw, filtered):
        errs = _matched_error(got, truth)
        assert max(errs.values()) < 20.0, errs  # mm; each walker found, not blended with the other
    assert raw["individual_0"].metadata["session"] == "pair01"
    assert filtered["individual_0"].metadata["filters"][-1]["name"] == "butterworth"
    for name in raw:
        header = (session / "angles" / f"pair01_{name}.csv").read_text().splitlines()
        assert header[0] == "l_knee,r_knee,fnum" and len(header) == FRAMES + 1
        assert (session / "exports" / f"pair01_{name}.trc").read_text().startswith("PathFileType")
        nwb = load_poses3d(session / "exports" / f"pair01_{name}.nwb")  # one NWB file per individual
        np.testing.assert_allclose(nwb.points, filtered[name].points, rtol=1e-6, atol=1e-6)
    nc = load_individuals(session / "exports" / "pair01.nc")
    np.testing.assert_array_equal(nc["individual_1"].points, filtered["individual_1"].points)
    record = json.loads((session / ".mocap3d" / "triangulate.json").read_text())
    assert record["params"]["triangulation"]["individuals"] == "all"


def test_rerun_resumes_and_a_changed_count_reruns_from_triangulate(project):
    run_project(project, workers=0, progress=False)
    report = run_project(project, workers=0, progress=False)
    assert report.scheduler == "nothing to do"
    assert report.sessions[0].count("skipped") == 4
    config = project / "config.toml"
    config.write_text(config.read_text().replace('individuals = "all"', "individuals = 2"))
    report = run_project(project, workers=0, progress=False)
    status = {s.stage: s.status for s in report.sessions[0].stages}
    assert status["triangulate"] == "done"


def test_cli_run_with_individuals_and_bad_value(project):
    res = CliRunner().invoke(cli, ["run", str(project), "--stages", "triangulate", "--workers", "0", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert load_individuals(project / "pair01" / "pose-3d" / "pair01.h5")
    config = project / "config.toml"
    config.write_text(config.read_text().replace('individuals = "all"', 'individuals = "many"'))
    res = CliRunner().invoke(cli, ["run", str(project), "--workers", "0", "--no-progress"])
    assert res.exit_code == 1 and "individuals" in res.output and "Traceback" not in res.output
