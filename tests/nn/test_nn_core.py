"""2D networks: torchvision-compatible backbones, targets/decoding, augmentation geometry, overfitting, resume, ONNX."""

from __future__ import annotations

import urllib.error

import _nn_scene as scene
import numpy as np
import pytest
import torch

from mocap3d.nn.augment import affine_matrix, augment, flip_index, transform_points, warp_image
from mocap3d.nn.config import AugmentConfig, ModelConfig, NetworkError
from mocap3d.nn.dataset import TrainingSet, split
from mocap3d.nn.frames import kmeans_frames, uniform_frames
from mocap3d.nn.heatmaps import decode, make_targets
from mocap3d.nn.models import build_backbone, build_model, imagenet_cache_path, load_imagenet
from mocap3d.nn.predict import Predictor, export_onnx
from mocap3d.nn.train import snapshots, train

torch.set_num_threads(2)

NO_PHOTO = scene.NO_PHOTO


# ----------------------------------------------------------------------------- backbones


def test_backbones_match_torchvision_layout():
    """Parameter counts and names of torchvision's resnet50 / mobilenet_v2 (published: 25,557,032 / 3,504,872)."""
    resnet = build_backbone(ModelConfig(backbone="resnet_50"))
    mobile = build_backbone(ModelConfig(backbone="mobilenet_v2"))
    assert sum(p.numel() for p in resnet.parameters()) == 25_557_032
    assert sum(p.numel() for p in mobile.parameters()) == 3_504_872
    rk, mk = set(resnet.state_dict()), set(mobile.state_dict())
    assert {"conv1.weight", "layer1.0.downsample.0.weight", "layer4.2.bn3.running_var", "fc.bias"} <= rk
    assert {"features.0.0.weight", "features.1.conv.0.0.weight", "features.17.conv.3.running_mean",
            "features.18.1.weight", "classifier.1.weight"} <= mk


@pytest.mark.parametrize("backbone,stride", [("resnet_50", 8), ("mobilenet_v2", 8), ("hrnet", 4)])
def test_output_shapes(backbone, stride):
    cfg = ModelConfig(backbone=backbone, pretrained="none", output_stride=stride, width=0.25 if backbone != "hrnet"
                      else 1.0, hrnet_channels=8, hrnet_branches=3, hrnet_blocks=1, head_channels=16)
    model = build_model(cfg, n_keypoints=5).eval()
    with torch.no_grad():
        heat, loc = model(torch.zeros(2, 3, 96, 128))
    assert heat.shape == (2, 5, 96 // stride, 128 // stride)
    assert loc.shape == (2, 5, 2, 96 // stride, 128 // stride)


def test_imagenet_weights_from_local_file_and_hub_cache(tmp_path, monkeypatch):
    cfg_file = tmp_path / "mobilenet.pth"
    torch.manual_seed(1)
    reference = build_backbone(ModelConfig(backbone="mobilenet_v2"))
    torch.save(reference.state_dict(), cfg_file)
    # a local file
    target = build_backbone(ModelConfig(backbone="mobilenet_v2"))
    assert load_imagenet(target, ModelConfig(backbone="mobilenet_v2", pretrained=str(cfg_file)))
    assert torch.equal(target.features[5].conv[1][0].weight, reference.features[5].conv[1][0].weight)
    # the hub cache: the file under torchvision's name in $TORCH_HOME/hub/checkpoints is used without a download
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    cached = imagenet_cache_path("mobilenet_v2")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(cfg_file.read_bytes())
    target = build_backbone(ModelConfig(backbone="mobilenet_v2"))
    assert load_imagenet(target, ModelConfig(backbone="mobilenet_v2", pretrained="imagenet"))
    assert torch.equal(target.features[18][0].weight, reference.features[18][0].weight)


def test_imagenet_weights_unavailable_or_wrong(tmp_path, monkeypatch, caplog):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    backbone = build_backbone(ModelConfig(backbone="mobilenet_v2"))
    with caplog.at_level("WARNING"):
        assert not load_imagenet(backbone, ModelConfig(backbone="mobilenet_v2"))
    assert "random weights" in caplog.text and "mobilenet_v2-b0353104.pth" in caplog.text
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, wrong)
    with pytest.raises(NetworkError, match="does not fit"):
        load_imagenet(backbone, ModelConfig(backbone="mobilenet_v2", pretrained=str(wrong)))
    with pytest.raises(NetworkError, match="does not exist"):
        load_imagenet(backbone, ModelConfig(backbone="mobilenet_v2", pretrained=str(tmp_path / "none.pth")))


# ----------------------------------------------------------------------------- targets and decoding


@pytest.mark.parametrize("stride", [2, 4, 8])
def test_targets_decode_to_the_keypoints(stride):
    rng = np.random.default_rng(stride)
    kp = rng.uniform(5, 90, (3, 4, 2))
    kp[1, 2] = np.nan
    heat, loc, mask = make_targets(kp, (96 // stride, 96 // stride), stride, radius=1.5 * stride, locref_stdev=7.0)
    assert heat[1, 2].sum() == 0 and (heat.sum((2, 3))[np.isfinite(kp[..., 0])] > 0).all()
    logits = np.where(heat > 0, 5.0, -5.0) - 0.01 * rng.random(heat.shape)  # any disc cell may win
    xy, score = decode(logits, loc, stride, 7.0)
    ok = np.isfinite(kp[..., 0])
    np.testing.assert_allclose(xy[ok], kp[ok], atol=1e-5)
    assert (score[ok] > 0.99).all()


# ----------------------------------------------------------------------------- augmentation


def _dots(size, points):
    """One small Gaussian spot per keypoint, each in its own colour channel."""
    w, h = size
    img = np.zeros((h, w, 3), np.float64)
    yy, xx = np.mgrid[0:h, 0:w]
    for c, (x, y) in enumerate(points):
        img[..., c] += 250 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0**2))
    return np.clip(img, 0, 255).astype(np.uint8)


def _centroids(img):
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    w = img.astype(float)
    return np.stack([(w[..., c] * xx).sum() / w[..., c].sum() for c in range(3)]), np.stack(
        [(w[..., c] * yy).sum() / w[..., c].sum() for c in range(3)]
    )


def test_affine_warp_keeps_keypoints_on_their_pixels():
    pts = np.array([[60.3, 40.7], [100.2, 80.9], [75.5, 120.1]])
    img = _dots((200, 160), pts)
    for angle, scale, flip in [(0, 1, False), (30, 1.3, False), (-50, 0.7, True), (90, 2.0, True)]:
        M = affine_matrix(np.array([80.0, 80.0]), (192, 192), scale, angle, flip)
        out = warp_image(img, M, (192, 192))
        cx, cy = _centroids(out)
        moved = transform_points(pts, M)
        np.testing.assert_allclose(np.c_[cx, cy], moved, atol=0.05 * max(1, scale))


def test_augment_with_flip_swaps_left_right_and_stays_on_pixels():
    pts = np.array([[90.0, 70.0], [130.0, 75.0], [110.0, 110.0]])  # left, right, tail
    img = _dots((220, 180), pts)
    fidx = flip_index(("left", "right", "tail"), [("left", "right")])
    cfg = AugmentConfig(crop_size=(128, 128), flip=True, scale_range=(0.8, 1.2), rotation_deg=40, **NO_PHOTO)
    flips = 0
    for seed in range(12):
        crop, kp = augment(img, pts, np.random.default_rng(seed), cfg, 1.0, fidx)
        if not np.isfinite(kp).all() or not ((kp > 8) & (kp < 120)).all():
            continue  # a spot cut by the crop's edge has a biased centroid
        cx, cy = _centroids(crop)
        spot = np.c_[cx, cy]  # spot c is where the source keypoint c ended up
        if np.allclose(kp, spot, atol=0.1):
            continue
        flips += 1
        np.testing.assert_allclose(kp, spot[fidx], atol=0.1)  # flipped: 'left' is now the old right ear's spot
    assert flips > 0
    # the same seed gives the same sample
    a = augment(img, pts, np.random.default_rng(3), AugmentConfig(), 0.5, fidx)
    b = augment(img, pts, np.random.default_rng(3), AugmentConfig(), 0.5, fidx)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1], equal_nan=True)


def test_split_is_seeded_and_sized_like_deeplabcut():
    tr, te = split(116, 0.95, seed=1)
    assert len(tr) == 110 and len(te) == 6 and not set(tr) & set(te)
    assert np.array_equal(split(116, 0.95, 1)[0], tr) and not np.array_equal(split(116, 0.95, 2)[0], tr)
    with pytest.raises(NetworkError, match="training fraction"):
        split(10, 1.5, 0)


# ----------------------------------------------------------------------------- training


def _synthetic(n=6, seed=0):
    images, kps = scene.frames(n, seed=seed)
    return TrainingSet(tuple(f"img{i}.png" for i in range(n)), images, kps, ("head", "tail"))


def _tiny_config(iterations):
    return scene.tiny_config(iterations)


def test_interrupted_training_resumes_to_the_same_state(tmp_path):
    data = _synthetic(4)
    cfg = _tiny_config(8)
    cfg = cfg.replace(train=cfg.train.replace(checkpoint_every=3))
    straight = train(data, cfg, tmp_path / "a", progress=False)
    part = train(data, cfg, tmp_path / "b", stop_after=5, progress=False)
    assert part.iterations == 5 and not part.model_path.exists()
    assert [it for it, _ in snapshots(tmp_path / "b")] == [3, 5]
    resumed = train(data, cfg, tmp_path / "b", progress=False)
    assert resumed.resumed_from == 5
    a = torch.load(straight.model_path, weights_only=False)["model"]
    b = torch.load(resumed.model_path, weights_only=False)["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert straight.losses == resumed.losses


def test_onnx_export_agrees_with_torch(tmp_path):
    cfg = ModelConfig(backbone="mobilenet_v2", width=0.35, head_channels=16, pretrained="none", input_scale=0.5)
    torch.manual_seed(0)
    model = build_model(cfg, 3).eval()
    path = export_onnx(model, tmp_path / "m.onnx", (200, 150))
    frames = np.random.default_rng(0).integers(0, 255, (2, 150, 200, 3), dtype=np.uint8)
    t = Predictor(model, cfg)
    o = Predictor(None, cfg, backend="onnx", onnx_path=path)
    ht, lt = t.run(t.preprocess(frames))
    ho, lo = o.run(o.preprocess(frames))
    np.testing.assert_allclose(ho, ht, atol=1e-3)
    np.testing.assert_allclose(lo, lt, atol=1e-3)


def test_kmeans_frames_pick_one_frame_per_posture():
    """Three clearly different 'postures' in 90 thumbnails: k-means with k=3 picks one of each."""
    rng = np.random.default_rng(0)
    kinds = rng.integers(0, 3, 90)
    centres = rng.uniform(0, 255, (3, 64))
    thumbs = centres[kinds] + rng.normal(0, 3, (90, 64))
    numbers = np.arange(90) * 7
    picked = kmeans_frames(thumbs, numbers, 3, seed=1)
    assert len(picked) == 3 and sorted(kinds[picked // 7]) == [0, 1, 2]
    assert np.array_equal(uniform_frames(100, 5), [0, 25, 50, 74, 99])
