"""Analysis at another scale than training (``[model] test_scale``), chosen on the training images."""

from __future__ import annotations

import _nn_scene as scene
import numpy as np
import pytest
import torch

from mocap3d.nn import predict
from mocap3d.nn.config import ModelConfig, NetworkError, TrainConfig, preset
from mocap3d.nn.dataset import TrainingSet
from mocap3d.nn.predict import Predictor
from mocap3d.nn.train import MIN_SCALE_IMAGES, choose_test_scale, load_model, train


def _data(n: int = 4) -> TrainingSet:
    images, kps = scene.frames(n, seed=1)
    return TrainingSet(tuple(f"img{i}.png" for i in range(n)), images, kps, ("head", "tail"))


def test_the_predictor_resizes_by_input_scale_times_test_scale():
    p = Predictor(torch.nn.Identity(), ModelConfig(pretrained="none", input_scale=0.5, test_scale=1.2))  # type: ignore[arg-type]
    assert p.input_size(640, 480)[:2] == (384, 288)


def test_the_factor_with_the_lowest_training_error_is_chosen(monkeypatch):
    data = _data(MIN_SCALE_IMAGES)
    bias = {1.0: 3.0, 1.1: 1.0, 1.2: 0.5, 1.3: 2.0}  # a network most accurate at 1.2x

    def fake_predict(self, frames):
        i = next(j for j, img in enumerate(data.images) if np.array_equal(img, frames[0]))
        return data.keypoints[i][None] + [bias[self.config.test_scale], 0.0], np.ones((1, 2))

    monkeypatch.setattr(predict.Predictor, "predict", fake_predict)
    model = torch.nn.Conv2d(3, 3, 1)
    scale, errors = choose_test_scale(model, ModelConfig(pretrained="none"), data, (1.0, 1.1, 1.2, 1.3))  # type: ignore[arg-type]
    assert scale == 1.2 and errors == pytest.approx(bias)
    bias.update({1.0: 0.5})  # a tie: the first factor wins
    assert choose_test_scale(model, ModelConfig(pretrained="none"), data, (1.0, 1.2))[0] == 1.0  # type: ignore[arg-type]


def test_too_few_training_images_keep_the_training_scale(monkeypatch, tmp_path, caplog):
    """A handful of memorised images cannot tell scales apart: the first factor is kept, and training says why."""
    data = _data(MIN_SCALE_IMAGES - 1)
    called = []
    monkeypatch.setattr(predict.Predictor, "predict", lambda self, frames: called.append(1))
    assert choose_test_scale(torch.nn.Conv2d(3, 3, 1), ModelConfig(pretrained="none"), data, (1.0, 1.2)) == (1.0, {})  # type: ignore[arg-type]
    assert not called  # nothing was analysed
    monkeypatch.undo()
    cfg = scene.tiny_config(2)
    cfg = cfg.replace(train=cfg.train.replace(test_scales=(1.0, 1.2)))
    with caplog.at_level("INFO", logger="mocap3d.nn.train"):
        result = train(_data(4), cfg, tmp_path, progress=False)
    assert result.test_scale == 1.0
    assert f"4 training images are too few to choose [train] test_scales on ({MIN_SCALE_IMAGES} needed)" in caplog.text


def test_training_writes_the_chosen_scale_into_the_model_and_analysis_uses_it(tmp_path):
    cfg = scene.tiny_config(3)
    cfg = cfg.replace(train=cfg.train.replace(test_scales=(1.0, 0.8, 1.25)))
    result = train(_data(MIN_SCALE_IMAGES), cfg, tmp_path, progress=False)
    assert result.test_scale in (1.0, 0.8, 1.25)
    _, info = load_model(result.model_path)
    assert info.config.model.test_scale == result.test_scale
    # the project's own settings are untouched: training again resumes (same model table) instead of refusing
    assert train(_data(MIN_SCALE_IMAGES), cfg, tmp_path, progress=False).iterations == 3


def test_the_lite_presets_choose_and_impossible_factors_are_refused():
    assert preset("lite0").train.test_scales == (1.0, 1.1, 1.2, 1.3)
    assert preset("hrnet_scratch").train.test_scales == ()
    with pytest.raises(NetworkError, match="test_scales"):
        TrainConfig(test_scales=(0.1,))
    with pytest.raises(NetworkError, match="test_scale 5"):
        ModelConfig(test_scale=5.0)
