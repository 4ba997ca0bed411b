import numpy as np
import pytest

from samosaic3d_core.lift import LiftConfig, lift_frame
from samosaic3d_core.types import CameraIntrinsics, Frame, MaskResult


def _frame():
    # 8x6 image, a wall at 2 m; left half is mask 0, right half mask 1, one 2-pixel mask 2
    k = CameraIntrinsics(10.0, 10.0, 4.0, 3.0, 8, 6)
    depth = np.full((6, 8), 2.0, np.float32)
    depth[0, 0] = 0.0  # one invalid pixel
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[:, 4:] = 200
    fmap = np.full((6, 8), -1, np.int32)
    fmap[:, :4] = 0
    fmap[:, 4:] = 1
    fmap[5, 6:] = 2
    masks = np.stack([fmap == i for i in range(3)])
    return Frame(rgb, depth, np.eye(4), k), MaskResult(masks, np.array([0.9, 0.8, 0.7], np.float32), fmap)


def test_lift_assigns_points_and_drops_small_fragments():
    frame, masks = _frame()
    cfg = LiftConfig(voxel_size=0.0, point_budget=0, min_fragment_points=3)
    points, frags = lift_frame(frame, masks, cfg)
    assert len(points.xyz) == 47  # 48 pixels, one invalid
    assert frags.mask_index.tolist() == [0, 1]  # mask 2 has 2 points < 3
    assert frags.num_points.tolist() == [23, 22]
    assert np.count_nonzero(points.fragment == -1) == 2
    np.testing.assert_allclose(frags.score, [0.9, 0.8])
    # right half: u in 4..7 -> x = (u - 4) * 2 / 10 in [0, 0.6]; rows 0..4 (row 5 cols 6,7 belong to mask 2)
    np.testing.assert_allclose(frags.box_min[1], [0.0, -0.6, 2.0], atol=1e-6)
    np.testing.assert_allclose(frags.box_max[1], [0.6, 0.4, 2.0], atol=1e-6)
    np.testing.assert_array_equal(points.rgb[points.fragment == 1], 200)


def test_lift_budget_and_determinism():
    frame, masks = _frame()
    cfg = LiftConfig(voxel_size=0.0, point_budget=10, min_fragment_points=1)
    a, fa = lift_frame(frame, masks, cfg)
    b, fb = lift_frame(frame, masks, cfg)
    assert len(a.xyz) == 10
    np.testing.assert_array_equal(a.pixel, b.pixel)
    assert fa.num_points.sum() == np.count_nonzero(a.fragment >= 0)


def test_lift_rejects_wrong_map_shape():
    frame, masks = _frame()
    masks.fragment_map = masks.fragment_map[:, :4]
    with pytest.raises(ValueError, match="fragment map shape"):
        lift_frame(frame, masks, LiftConfig())
