"""Never destroy a user's data, never accept an impossible number, answer every mistake with a sentence.

Replays the cases of issue 13 through the real command line (click's CliRunner, in
process; a few in a subprocess to see stderr): every case exits with code 1 and a
one-sentence message, no traceback, no input modified (SHA-256 of every file before
and after), no partial output (the folder holds the same files afterwards).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import toml
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.errors import CalibrationError, MocapError, describe_os_error, is_disk_full
from mocap3d.io.atomic import atomic_path, atomic_write_text, save_figure, sweep_partial
from mocap3d.io.calibration import load_calibration
from mocap3d.io.outputs import OutputError, check_output, file_kind
from mocap3d.io.settings import SettingsError, read_toml, read_yaml
from mocap3d.pipeline.manifest import EMPTY_LOCK_SECONDS, session_lock
from mocap3d.sample import make_sample, write_sample

REPO = Path(__file__).resolve().parents[1]
BOARD = REPO / "calibration" / "charuco_6x5_4x4_50_24mm.toml"


# --------------------------------------------------------------------------- a user's folder of data
@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A recording as a user has it: calibration, 2D files, 3D results, angles, raw videos, a network."""
    root = tmp_path_factory.mktemp("user")
    write_sample(make_sample(n_frames=40, seed=3), root)
    res = CliRunner().invoke(cli, ["triangulate", "-c", str(root / "calibration.toml"), "-o", str(root / "walk.h5"),
                                   *map(str, sorted((root / "pose-2d").glob("*.h5")))])  # fmt: skip
    assert res.exit_code == 0, res.output
    for args in (["export", "walk.h5", "--out", "walk.csv"], ["export", "walk.h5", "--out", "other.csv"],
                 ["angles", "walk.csv", "--angle", "knee=l_hip,l_knee,l_ankle", "-o", "angles.csv"]):  # fmt: skip
        res = CliRunner().invoke(cli, [args[0], str(root / args[1]), *[str(root / a) if "." in a and "=" not in a
                                                                         else a for a in args[2:]]])  # fmt: skip
        assert res.exit_code == 0, res.output
    (root / "videos").mkdir()
    for cam in "ABC":  # raw videos: only their bytes matter here (nothing may replace them)
        (root / "videos" / f"cam-{cam}.mp4").write_bytes(os.urandom(2048))
    (root / "model.pt").write_bytes(b"PK\x03\x04" + os.urandom(1024))
    shutil.copy(BOARD, root / "board.toml")
    (root / "gait").mkdir()
    return root


@pytest.fixture
def data(template, tmp_path) -> Path:
    root = tmp_path / "user"
    shutil.copytree(template, root)
    return root


def snapshot(root: Path) -> dict[str, str]:
    """Every file below ``root`` (hidden temporary files included) with its SHA-256."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def run_cli(root: Path, args: list[str]):
    old = os.getcwd()
    os.chdir(root)  # relative paths, as a user types them
    try:
        return CliRunner().invoke(cli, args)
    finally:
        os.chdir(old)


def assert_refused(root: Path, args: list[str], *needles: str) -> str:
    """The command exits 1 with one sentence (no traceback) and leaves every file as it was."""
    before = snapshot(root)
    res = run_cli(root, args)
    text = res.output
    assert res.exit_code == 1, f"{args}: exit {res.exit_code}\n{text}"
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in text and text.startswith(("Error:", "Usage:")), text
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"
    assert snapshot(root) == before, "an input was modified or a partial output was left"
    return text


P2D = ["pose-2d/cam1.h5", "pose-2d/cam2.h5", "pose-2d/cam3.h5", "pose-2d/cam4.h5"]
VIDEOS = ["videos/cam-A.mp4", "videos/cam-B.mp4", "videos/cam-C.mp4"]

# The 12 cases of the issue (a shell glob after -o gives -o the first file), and their kin on other commands.
OVERWRITE_CASES = {
    "calibrate --out videos/*.mp4": (["calibrate", "--board", "board.toml", "--out", *VIDEOS], "is a video"),
    "calibrate --out videos/*.mp4 --overwrite": (["calibrate", "--board", "board.toml", "--overwrite", "--out",
                                                  *VIDEOS], "even with --overwrite"),
    "triangulate -o p2d/*.h5": (["triangulate", "-c", "calibration.toml", "-o", *P2D], "is a 2D pose file"),
    "triangulate -o p2d/*.h5 --overwrite": (["triangulate", "-c", "calibration.toml", "--overwrite", "-o", *P2D],
                                            "even with --overwrite"),
    "triangulate -o calibration.toml": (["triangulate", "-c", "calibration.toml", "-o", "calibration.toml",
                                         *P2D], "one of the inputs"),
    "triangulate over an existing result": (["triangulate", "-c", "calibration.toml", "-o", "walk.csv", *P2D],
                                            "--overwrite"),
    "sync -o p2d/*.h5": (["sync", "-c", "calibration.toml", "-o", *P2D], "is a 2D pose file"),
    "export x.h5 --out x.h5": (["export", "walk.h5", "--out", "walk.h5", "--overwrite"], "one of the inputs"),
    "export over another recording": (["export", "walk.h5", "--out", "other.csv"], "--overwrite"),
    "export over a calibration": (["export", "walk.h5", "--out", "calibration.toml", "--overwrite"],
                                  "is a calibration"),
    "angles x.csv -o x.csv": (["angles", "walk.csv", "--angle", "k=l_hip,l_knee,l_ankle", "-o", "walk.csv",
                               "--overwrite"], "one of the inputs"),
    "angles over another table": (["angles", "walk.csv", "--angle", "k=l_hip,l_knee,l_ankle", "-o",
                                   "angles.csv"], "--overwrite"),
    "angles over 3D poses": (["angles", "walk.csv", "--angle", "k=l_hip,l_knee,l_ankle", "-o", "other.csv",
                              "--overwrite"], "is a 3D pose file"),
    "export-onnx model.pt -o model.pt": (["export-onnx", "model.pt", "-o", "model.pt"], "one of the inputs"),
    "export-onnx over a network": (["export-onnx", "walk.h5", "-o", "model.pt", "--overwrite"],
                                   "trained network"),
    "filter-3d x.h5 -o x.h5": (["filter-3d", "--filter", "median", "-o", "walk.h5", "walk.h5"], "one of the inputs"),
    "filter-3d over a 2D file": (["filter-3d", "--filter", "median", "-o", "pose-2d/cam1.h5", "walk.h5",
                                  "--overwrite"], "is a 2D pose file"),
    "filter-2d -o p2d/*.h5": (["filter-2d", "--filter", "median", "-o", *P2D], "is a file"),
    "filter-2d into the input folder": (["filter-2d", "--filter", "median", "--overwrite", "-o", "pose-2d",
                                         *P2D], "is one of the inputs"),
    "board --out videos/*.mp4": (["board", "board.toml", "--out", *VIDEOS[:1]], "is a video"),
    "view --out calibration.toml": (["view", "walk.h5", "--out", "calibration.toml", "--overwrite"],
                                    "is a calibration"),
    "overlay --out p2d": (["overlay", "-c", "calibration.toml", "-p", "walk.h5", "--out", "videos/cam-A.mp4",
                           *P2D], "--overwrite"),
    "overlay --summary over a 2D file": (["overlay", "-c", "calibration.toml", "-p", "walk.h5", "--summary",
                                          "pose-2d/cam1.h5", *P2D[1:]], "2D pose file"),
    "gait --out a file": (["gait", "walk.csv", "--out", "walk.h5"], "is a file"),
    "project create over a video": (["project", "create", "videos/cam-A.mp4", "--name", "x", "--bodyparts", "a,b"],
                                    "is a video"),
    "split-views --out a video": (["split-views", "--layout", "board.toml", "--out", "videos/cam-A.mp4",
                                   "videos/cam-B.mp4"], "is a file"),
    "demo --out a file": (["demo", "--out", "walk.csv"], "is a file"),
}


@pytest.mark.parametrize("case", list(OVERWRITE_CASES))
def test_outputs_never_destroy_data(data, case):
    args, needle = OVERWRITE_CASES[case]
    assert_refused(data, args, needle)


def test_overwrite_replaces_only_an_output_of_the_same_kind(data):
    before = (data / "angles.csv").read_bytes()
    res = run_cli(data, ["angles", "walk.csv", "--angle", "hip=pelvis,l_hip,l_knee", "-o", "angles.csv",
                         "--overwrite"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (data / "angles.csv").read_bytes() != before and "hip" in (data / "angles.csv").read_text()
    res = run_cli(data, ["export", "walk.h5", "--out", "other.csv", "--overwrite"])
    assert res.exit_code == 0, res.output
    assert not [p for p in data.rglob(".*") if p.is_file()], "temporary files left behind"


def test_file_kinds(data):
    assert file_kind(data / "pose-2d" / "cam1.h5") == "pose2d"
    assert file_kind(data / "walk.h5") == "pose3d"
    assert file_kind(data / "walk.csv") == "pose3d"
    assert file_kind(data / "angles.csv") == "table"
    assert file_kind(data / "calibration.toml") == "calibration"
    assert file_kind(data / "board.toml") == "settings"
    assert file_kind(data / "videos" / "cam-A.mp4") == "video"
    assert file_kind(data / "model.pt") == "torch-model"


def test_same_file_through_a_link_is_an_input(data):
    link = data / "link.h5"
    link.symlink_to(data / "walk.h5")
    with pytest.raises(OutputError, match="one of the inputs"):
        check_output(link, [data / "walk.h5"], overwrite=True, kinds=["pose3d"])
    with pytest.raises(OutputError, match="one of the inputs"):
        check_output(data / "pose-2d" / ".." / "walk.h5", [data / "walk.h5"], overwrite=True, kinds=["pose3d"])


# --------------------------------------------------------------------------- impossible numbers
def _calibration_with(data: Path, camera: str, key: str, value) -> Path:
    calib = toml.loads((data / "calibration.toml").read_text())
    calib[camera][key] = value
    path = data / "bad_calibration.toml"
    path.write_text(toml.dumps(calib))
    return path


@pytest.mark.parametrize("key, value, needle", [
    ("rotation", [[0.0] * 3] * 3, "not a rotation matrix"),
    ("rotation", [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]], "not a rotation matrix"),  # rank 2
    ("rotation", [[1.0, 0.2, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], "not a rotation matrix"),
    ("translation", [1e300, 0.0, 0.0], "impossible value"),
    ("matrix", [[1e300, 0.0, 320.0], [0.0, 1000.0, 240.0], [0.0, 0.0, 1.0]], "impossible value"),
    ("matrix", [[0.0, 0.0, 320.0], [0.0, 1000.0, 240.0], [0.0, 0.0, 1.0]], "focal lengths"),
    ("distortions", [0.1, float("nan"), 0.0, 0.0, 0.0], "NaN or infinite"),
    ("size", [0, 480], "both positive"),
    ("size", [640], "2 numbers"),
    ("rotation", [1.0, 2.0], "Rodrigues vector"),
    ("matrix", "eye", "must be numbers"),
])  # fmt: skip
def test_impossible_calibration_values_name_camera_and_key(data, key, value, needle):
    bad = _calibration_with(data, "cam_1", key, value)
    text = assert_refused(data, ["triangulate", "-c", bad.name, "-o", "new.csv", *P2D], needle)
    assert "cam_1" in text and key in text


def test_a_true_rotation_matrix_is_accepted(data):
    rig = load_calibration(data / "calibration.toml")
    from mocap3d.camera import rodrigues

    R = rodrigues(rig.rvec)[1]
    bad = _calibration_with(data, "cam_1", "rotation", np.round(R, 8).tolist())
    np.testing.assert_allclose(load_calibration(bad).rvec[1], rig.rvec[1], atol=1e-6)


@pytest.mark.parametrize("args, needle", [
    (["label", "--port", "70000", "."], "--port"),
    (["label", "--port", "-1", "."], "--port"),
    (["extract-frames", "--n", "0", "-o", "frames", "videos/cam-A.mp4"], "--n"),
    (["export", "walk.h5", "--out", "new.trc", "--fps", "0"], "frame rate"),
    (["export", "walk.h5", "--out", "new.trc", "--fps", "nan"], "frame rate"),
    (["triangulate", "-c", "calibration.toml", "-o", "n.trc", "--fps", "-30", *P2D], "frame rate"),
    (["gait", "walk.csv", "--out", "g", "--fps", "inf"], "frame rate"),
    (["view", "walk.h5", "--out", "v.png", "--size", "0x0"], "--size"),
    (["sync", "--method", "keypoints", "--max-offset", "0", *P2D], "--max-offset"),
    (["board", "board.toml", "--out", "b.png", "--dpi", "0"], "--dpi"),
    (["triangulate", "-c", "calibration.toml", "--bogus", "-o", "n.csv", *P2D], "No such option"),
    (["nosuchcommand"], "No such command"),
    (["--bogus"], "No such option"),
])  # fmt: skip
def test_impossible_options_exit_1_with_a_sentence(data, args, needle):
    assert_refused(data, args, needle)


def test_device_without_gpu_is_a_sentence(data):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    (data / "project.toml").write_text("")
    assert_refused(data, ["analyze", "-p", "project.toml", "--device", "cuda:0", "videos/cam-A.mp4"],
                   "--device", "no CUDA")  # fmt: skip
    assert_refused(data, ["analyze", "-p", "project.toml", "--device", "gpu0", "videos/cam-A.mp4"], "not a device")


# --------------------------------------------------------------------------- settings files
def _triangulate_with_config(data: Path, text: str | bytes, *needles: str) -> str:
    cfg = data / "tri.toml"
    cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
    return assert_refused(data, ["triangulate", "-c", "calibration.toml", "--config", "tri.toml", "-o", "n.csv",
                                 *P2D], *needles)  # fmt: skip


@pytest.mark.parametrize("text, needles", [
    ('[triangulaton]\nmethod = "robust"\n', ("[triangulaton]", "did you mean [triangulation]?")),
    ('[[filter3D]]\ntype = "median"\nwindow = 5\n', ("[[filter3D]]", "did you mean [[filter3d]]?")),
    ('[[filter2b]]\ntype = "median"\n', ("did you mean [[filter2d]]?",)),
    ("triangulation = 5\n", ("[triangulation] must be a table",)),
    ("triangulation = [1, 2]\n", ("[triangulation] must be a table", "list")),
    ("filter3d = 3\n", ("[[filter3d]] must be",)),
    ('l_hip = [ "pelvis", "l_hip", [ 1.5, -2.5,],]\n', ("tri.toml", "line 1", "l_hip")),
    ('method = "dlt"\n\n[angles]\nl_hip = [ "pelvis", "l_hip", [ 1.5, -2.5,],]\n', ("line 4",)),
    ("[triangulation\nmethod = 1\n", ("not valid TOML", "line")),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ("binary file",)),
    (b"method = '\xff\xfe'\n", ("not UTF-8", "line 1")),
])  # fmt: skip
def test_settings_mistakes_are_sentences(data, text, needles):
    _triangulate_with_config(data, text, *needles)


def test_project_config_mistakes(tmp_path):
    from mocap3d.pipeline.config import load_config

    for text, needle in [("[triangulaton]\nmethod = 'dlt'\n", "did you mean [triangulation]?"),
                         ("[[filter3D]]\ntype = 'median'\n", "did you mean [[filter3d]]?"),
                         ("project = 5\n", "[project] must be a table"),
                         ("fps = 60\n", "unknown setting 'fps'"),
                         ("[angles]\nl_hip = [ 'pelvis', 'l_hip', [ 1.5, -2.5,],]\n", "line 2")]:  # fmt: skip
        (tmp_path / "config.toml").write_text(text)
        with pytest.raises(MocapError, match=None) as info:
            load_config(tmp_path)
        assert needle in str(info.value), (text, str(info.value))
    res = CliRunner().invoke(cli, ["run", str(tmp_path)])
    assert res.exit_code == 1 and "line 2" in res.output and "Traceback" not in res.output


def test_filter_config_unknown_table(data):
    (data / "f.toml").write_text('[[filter3D]]\ntype = "median"\nwindow = 5\n')
    assert_refused(data, ["filter-3d", "--config", "f.toml", "-o", "f.csv", "walk.h5"], "did you mean [[filter3d]]?")


def test_yaml_alias_bomb_and_binary_config(tmp_path):
    bomb = tmp_path / "config.yaml"
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    bomb.write_text("\n".join(lines) + "\n")
    with pytest.raises(SettingsError, match="aliases"):
        read_yaml(bomb)
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(SettingsError, match="binary"):
        read_yaml(bomb)
    bomb.write_text("scorer: [unclosed\n")
    with pytest.raises(SettingsError, match="not valid YAML"):
        read_yaml(bomb)
    bomb.write_text("scorer: me\nbodyparts: [a, b]\n")
    assert read_yaml(bomb) == {"scorer": "me", "bodyparts": ["a", "b"]}


def test_label_refuses_a_picture_as_config_yaml(tmp_path):
    project = tmp_path / "proj"
    (project / "labeled-data" / "v1").mkdir(parents=True)
    (project / "config.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(1, 256)))
    res = CliRunner().invoke(cli, ["label", str(project), "--dry-run"])
    assert res.exit_code == 1 and "binary file" in res.output and "Traceback" not in res.output


# --------------------------------------------------------------------------- operating-system errors
@pytest.mark.parametrize("err, needles", [
    (PermissionError(errno.EACCES, "Permission denied"), ("permission denied", "new.csv")),
    (OSError(errno.ENOSPC, "No space left on device"), ("disk is full", "new.csv")),
    (OSError(errno.EROFS, "Read-only file system"), ("read-only",)),
])  # fmt: skip
def test_os_errors_while_writing_are_one_sentence(data, monkeypatch, err, needles):
    import mocap3d.io.atomic as atomic

    def refuse(*args, prefix="", dir=None, **kwargs):  # noqa: A002 - tempfile's own keyword
        err.filename = str(Path(dir) / prefix[1:].rsplit(".", 1)[0]) if dir else None
        raise err

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    for args in (["export", "walk.h5", "--out", "new.csv"],
                 ["angles", "walk.csv", "--angle", "k=l_hip,l_knee,l_ankle", "-o", "new.csv"],
                 ["triangulate", "-c", "calibration.toml", "-o", "new.csv", *P2D]):  # fmt: skip
        assert_refused(data, args, *needles)


def test_disk_full_during_the_write_leaves_nothing(data, monkeypatch):
    """The disk fills up while the file is written: the temporary file goes, the message says so."""
    import pandas as pd

    real = pd.DataFrame.to_csv

    def half_then_full(self, path, *args, **kwargs):
        Path(path).write_text("fnum,k\n0,1")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_full)
    assert_refused(data, ["angles", "walk.csv", "--angle", "k=l_hip,l_knee,l_ankle", "-o", "new.csv"], "disk is full")
    monkeypatch.setattr(pd.DataFrame, "to_csv", real)


def test_output_under_a_file_is_a_sentence(data):
    assert_refused(data, ["export", "walk.h5", "--out", "calibration.toml/walk.csv"], "calibration.toml")


def test_hdf5_full_disk_is_recognised():
    hdf5 = RuntimeError("Unable to create attribute (file write failed: time = x, filename = 'a.h5', "
                        "file descriptor = 5, errno = 28, error message = 'No space left on device')")  # fmt: skip
    assert is_disk_full(hdf5) and "disk is full" in describe_os_error(hdf5)
    assert not is_disk_full(RuntimeError("something else"))
    assert "no such file" in describe_os_error(FileNotFoundError(errno.ENOENT, "x", "/no/such/dir/a.csv"))


def test_pipeline_report_names_a_full_disk(tmp_path, monkeypatch):
    from mocap3d.pipeline import stages
    from mocap3d.pipeline.runner import run_project
    from mocap3d.pipeline.sample_project import make_sample_project

    root = tmp_path / "proj"
    make_sample_project(root, n_sessions=1, n_frames=30, groups=0)
    real = stages.STAGES["triangulate"]

    def full_disk(ctx):
        work = real(ctx)

        def run():
            raise OSError(errno.ENOSPC, "No space left on device", str(ctx.pose3d))

        return stages.StageWork(**{**work.__dict__, "run": run}) if not isinstance(work, str) else work

    monkeypatch.setitem(stages.STAGES, "triangulate", full_disk)
    report = run_project(root, workers=0, progress=False)
    assert report.failed and "disk is full" in report.failed[0].error
    assert "unexpected" not in report.failed[0].error


# --------------------------------------------------------------------------- analysis on empty input
def test_gait_on_all_nan_input_writes_nothing(data):
    from mocap3d.io.exports import load_any_poses3d, save_any_poses3d

    poses = load_any_poses3d(data / "walk.h5")
    poses.points[:] = np.nan
    save_any_poses3d(poses, data / "nan.h5")
    assert_refused(data, ["gait", "nan.h5", "--out", "gait", "--fps", "60"], "3D position in only 0")
    assert not list((data / "gait").iterdir())


# --------------------------------------------------------------------------- temporary files and locks
def test_atomic_write_removes_its_temporary_file_on_every_path(tmp_path, monkeypatch):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed by a bug")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(os, "chmod", lambda *a: (_ for _ in ()).throw(PermissionError(errno.EPERM, "no")))
    with pytest.raises(PermissionError), atomic_path(target):
        pass
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temporary_files_of_a_killed_run_are_swept(tmp_path):
    """calibrate's pictures are written through save_figure: a killed run's temporary picture goes next time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    png = tmp_path / "calibration_rig.png"
    dead = tmp_path / f".calibration_rig.png.{_dead_pid()}-abc123.png"
    old_style = tmp_path / ".calibration_rig.png.k2j3h4.png"
    alive = tmp_path / f".calibration_rig.png.{os.getpid()}-zzz.png"  # a live writer's file stays
    other = tmp_path / ".other.png.123-x.png"
    for p in (dead, old_style, alive, other):
        p.write_bytes(b"partial")
    save_figure(plt.figure(), png)
    assert png.is_file() and not dead.exists() and not old_style.exists()
    assert alive.exists() and other.exists()
    atomic_write_text(tmp_path / "x.txt", "x")
    assert sweep_partial([png]) == [] and alive.exists()


def test_a_kill_during_a_write_leaves_a_temporary_file_the_next_write_removes(tmp_path):
    target = tmp_path / "pose3d.csv"
    target.write_text("the previous, complete result\n")
    code = ("import os, signal, sys; from mocap3d.io.atomic import atomic_path\n"
            f"with atomic_path({str(target)!r}) as tmp:\n"
            "    tmp.write_text('half of the new resu')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert proc.returncode == -9
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".pose3d.csv.")]
    assert len(left) == 1 and target.read_text() == "the previous, complete result\n"
    atomic_write_text(target, "new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pose3d.csv"] and target.read_text() == "new\n"


def test_empty_and_reused_pid_locks_are_recovered(tmp_path):
    manifests = tmp_path / ".mocap3d"
    manifests.mkdir()
    lock = manifests / "lock"
    lock.write_text("")  # killed between creating the lock and writing its holder
    old = time.time() - EMPTY_LOCK_SECONDS - 5
    os.utime(lock, (old, old))
    with session_lock(manifests, "s1"):
        holder = json.loads(lock.read_text())
        assert holder["pid"] == os.getpid()
    assert not lock.exists()
    import socket

    # this process's pid, but another start time: the pid was reused after the lock's process died
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "start": 1}))
    with session_lock(manifests, "s1"):
        pass
    # a live holder is respected
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getppid()}))
    with pytest.raises(MocapError, match="being processed"), session_lock(manifests, "s1"):
        pass
    lock.write_text("")  # a fresh empty lock may be a run that is starting: respected too
    with pytest.raises(MocapError, match="being processed"), session_lock(manifests, "s1"):
        pass


# --------------------------------------------------------------------------- no traceback reaches the terminal
@pytest.mark.parametrize("args, needle", [
    (["triangulate", "-c", "calibration.toml", "-o", *P2D], "2D pose file"),
    (["export", "walk.h5", "--out", "calibration.toml/x.csv"], "calibration.toml"),
    (["label", "--port", "70000", "."], "--port"),
])  # fmt: skip
def test_subprocess_exit_1_without_traceback(data, args, needle):
    before = snapshot(data)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "mocap3d", *args], cwd=data, capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 4, proc.stderr
    assert snapshot(data) == before


def test_read_toml_reports_the_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('a = 1\nb = = 2\n')
    with pytest.raises(SettingsError, match=r"c.toml.*line"):
        read_toml(path)
    with pytest.raises(CalibrationError, match="does not exist"):
        load_calibration(tmp_path / "missing.toml")


def test_non_utf8_file_names_are_read(data):
    """DeepLabCut tables are read through h5py (issue 14's fast reader), which opens names that are not UTF-8:
    what was "probably truncated or corrupt" under an HDF5 dump now simply loads."""
    import numpy as np

    from mocap3d.io.exports import load_any_poses3d
    from mocap3d.io.pose2d import load_track2d

    name = data / os.fsdecode(b"cam1-\xe9t\xe9.h5")
    shutil.copy(data / "pose-2d" / "cam1.h5", name)
    np.testing.assert_array_equal(load_track2d(name).points, load_track2d(data / "pose-2d" / "cam1.h5").points)
    other = data / os.fsdecode(b"walk-\xe9.h5")  # h5py (3D files) opens such names: nothing refused
    shutil.copy(data / "walk.h5", other)
    assert load_any_poses3d(other).n_frames == load_any_poses3d(data / "walk.h5").n_frames


@pytest.mark.parametrize("fps", ["0", "-60", "nan", "inf", '"fast"'])
def test_impossible_project_fps(tmp_path, fps):
    (tmp_path / "config.toml").write_text(f"[project]\nfps = {fps}\n")
    res = CliRunner().invoke(cli, ["run", str(tmp_path)])
    assert res.exit_code == 1 and "fps" in res.output and "Traceback" not in res.output, res.output


def test_run_without_fps_names_the_config_key(tmp_path):
    from mocap3d.pipeline.sample_project import make_sample_project

    root = tmp_path / "proj"
    make_sample_project(root, n_sessions=1, n_frames=30, groups=0)
    config = root / "config.toml"
    text = config.read_text()
    assert "[[filter3d]]" in text and 'type = "butterworth"' in text  # a filter in Hz: it needs the frame rate
    config.write_text("\n".join(ln for ln in text.splitlines() if not ln.strip().startswith("fps")) + "\n")
    from mocap3d.pipeline.runner import run_project

    report = run_project(root, workers=0, progress=False)
    errors = " ".join(s.error for s in report.failed)
    assert "[project]" in errors and "config.toml" in errors, report.table()


@pytest.mark.parametrize("text, needle", [
    ('[triangulation]\nmethd = "dlt"\n', "did you mean 'method'?"),
    ('[[filter3d]]\ntype = "butterworh"\ncutoff = 6.0\n', "did you mean 'butterworth'?"),
    ('[[filter3d]]\ntype = "median"\nwindw = 5\n', "did you mean 'window'?"),
])  # fmt: skip
def test_misspelt_keys_get_a_did_you_mean(data, text, needle):
    _triangulate_with_config(data, text, needle)


def test_misspelt_project_key(tmp_path):
    (tmp_path / "config.toml").write_text("[project]\nfsp = 60\n")
    res = CliRunner().invoke(cli, ["run", str(tmp_path)])
    assert res.exit_code == 1 and "did you mean 'fps'?" in res.output, res.output


def test_calibrate_replaces_an_orphaned_report_but_not_a_calibration(data):
    """A killed calibrate may leave its report without the calibration (written last): the re-run replaces it."""
    (data / "calib_report.json").write_text("{}")
    res = run_cli(data, ["calibrate", "--board", "board.toml", "--out", "calib.toml", "--no-pictures", *VIDEOS])
    assert res.exit_code == 1 and "--overwrite" not in res.output  # past the output check (the videos are noise)
    shutil.copy(data / "calibration.toml", data / "calib.toml")
    assert_refused(data, ["calibrate", "--board", "board.toml", "--out", "calib.toml", "--no-pictures", *VIDEOS],
                   "calib.toml", "--overwrite")  # fmt: skip


def test_hdf5_full_disk_in_a_command_is_a_sentence(data, monkeypatch):
    import mocap3d.io.pose3d as pose3d

    def full(*args, **kwargs):
        raise RuntimeError("Unable to synchronously create dataset (file write failed: errno = 28, error "
                           "message = 'No space left on device')")  # fmt: skip

    monkeypatch.setattr(pose3d, "save_h5", full)  # what the format registry calls for .h5
    assert_refused(data, ["export", "walk.h5", "--out", "new.h5"], "disk is full")


def test_pipeline_report_names_an_unwritable_session(tmp_path, monkeypatch):
    from mocap3d.pipeline import runner
    from mocap3d.pipeline.sample_project import make_sample_project

    root = tmp_path / "proj"
    make_sample_project(root, n_sessions=1, n_frames=30, groups=0)

    def read_only(manifests, name):
        raise PermissionError(errno.EACCES, "Permission denied", str(manifests))

    monkeypatch.setattr(runner, "session_lock", read_only)
    report = runner.run_project(root, workers=0, progress=False)
    assert report.failed and "permission denied" in report.failed[0].error and ".mocap3d" in report.failed[0].error
