"""FastSAM source with a tiny one-class YOLOv8-seg checkpoint made here (random weights, no download)."""

import os

import numpy as np
import pytest

from samosaic3d_core.masks import make_mask_source

from test.core.mask_fixtures import block_frame

os.environ.setdefault("YOLO_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from ultralytics.nn.tasks import SegmentationModel

    torch.manual_seed(0)
    model = SegmentationModel("yolov8n-seg.yaml", nc=1, verbose=False)
    model.args = {"task": "segment"}
    path = tmp_path_factory.mktemp("fastsam") / "tiny-seg.pt"
    torch.save({"model": model.half(), "train_args": {"task": "segment"}}, path)
    return path


def test_fastsam_runs_offline_on_a_frame(tiny_checkpoint):
    frame = block_frame()
    source = make_mask_source("fastsam", weights=str(tiny_checkpoint), device="cpu", imgsz=64, conf=0.0001)
    result = source(frame)
    assert result.masks.shape[1:] == frame.shape and result.fragment_map.shape == frame.shape
    assert len(result) == len(result.scores) <= 200
    if len(result):
        assert result.fragment_map.max() < len(result)
        assert np.all(result.scores[:-1] >= result.scores[1:])  # sorted by confidence


def test_fastsam_missing_or_corrupt_weights_is_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="FastSAM weights not found: .*nope.pt"):
        make_mask_source("fastsam", weights=str(tmp_path / "nope.pt"))
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt.pt: not a loadable FastSAM"):
        make_mask_source("fastsam", weights=str(bad))
    with pytest.raises(ValueError, match="needs a weights file"):
        make_mask_source("fastsam")
