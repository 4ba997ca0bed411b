import numpy as np
import pytest

from samosaic3d_core.lift import LiftConfig, lift_config_for_masks, lift_frame
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


def test_oversegment_pieces_have_their_own_smallest_fragment():
    frame, masks = _frame()
    config = LiftConfig(voxel_size=0.0, point_budget=0, min_fragment_points=2, oversegment_min_fragment_points=3)
    assert lift_config_for_masks(config, "sim") is config and lift_config_for_masks(config, "fastsam") is config
    pieces = lift_config_for_masks(config, "oversegment")
    assert pieces.min_fragment_points == 3 and config.min_fragment_points == 2
    # mask 2 has 2 points: a fragment of SAM-like masks, dropped among oversegment pieces
    assert lift_frame(frame, masks, config)[1].mask_index.tolist() == [0, 1, 2]
    assert lift_frame(frame, masks, pieces)[1].mask_index.tolist() == [0, 1]
    same = LiftConfig(min_fragment_points=2, oversegment_min_fragment_points=None)
    assert lift_config_for_masks(same, "oversegment").min_fragment_points == 2
    with pytest.raises(ValueError, match="oversegment_min_fragment_points must be >= 0"):
        LiftConfig(oversegment_min_fragment_points=-1)


def test_the_segmenter_lifts_with_the_smallest_fragment_of_its_mask_source():
    from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig

    def smallest(source):
        config = SegmenterConfig.from_flat({"pipeline": "baseline", "masks.source": source,
                                            "lift.min_fragment_points": 7, "lift.oversegment_min_fragment_points": 15})
        return OnlineSegmenter.from_config(config).lift_config.min_fragment_points

    assert smallest("sim") == 7 and smallest("oversegment") == 15


def test_lift_budget_and_determinism():
    frame, masks = _frame()
    cfg = LiftConfig(voxel_size=0.0, point_budget=10, min_fragment_points=1)
    a, fa = lift_frame(frame, masks, cfg)
    b, fb = lift_frame(frame, masks, cfg)
    assert len(a.xyz) == 10
    np.testing.assert_array_equal(a.pixel, b.pixel)
    assert fa.num_points.sum() == np.count_nonzero(a.fragment >= 0)


def _room_frame(index=0):
    # 64x48 view of a slanted wall: 2 cm voxels hold a few pixels each, more voxels than the budget
    k = CameraIntrinsics(40.0, 40.0, 32.0, 24.0, 64, 48)
    u = np.arange(64)[None, :]
    depth = (1.5037 + 0.0131 * u + 0.0077 * np.arange(48)[:, None]).astype(np.float32)
    fmap = np.zeros((48, 64), np.int32)
    masks = MaskResult(None, np.array([1.0], np.float32), fmap)
    return Frame(np.zeros((48, 64, 3), np.uint8), depth.astype(np.float32), np.eye(4), k, index=index), masks


@pytest.mark.parametrize("sampling", ["voxel", "random"])
def test_lift_budget_sampling_under_a_float_level_perturbation(sampling):
    cfg = LiftConfig(voxel_size=0.02, point_budget=300, budget_sampling=sampling)
    frame, masks = _room_frame()
    a, _ = lift_frame(frame, masks, cfg)
    frame.depth[:, :40] = np.nextafter(frame.depth[:, :40], np.float32(np.inf))  # one float step
    frame.depth[0, 0] = 0.0  # and one pixel fewer
    b, _ = lift_frame(frame, masks, cfg)
    assert len(a.xyz) == len(b.xyz) == 300
    changed = len(np.setdiff1d(a.pixel, b.pixel))
    if sampling == "voxel":  # the same voxels, give or take those the change moved or removed
        assert changed <= 10
    else:  # a fresh draw over a different count: most choices change
        assert changed > 100
    # the frame index reseeds both: over many frames every voxel of a surface is kept at times
    other, _ = lift_frame(_room_frame(index=1)[0], masks, cfg)
    assert len(np.setdiff1d(other.pixel, a.pixel)) > 100


@pytest.mark.parametrize("sampling", ["voxel", "random"])
def test_lift_keeps_small_fragments_whole(sampling):
    frame, masks = _room_frame()
    fmap = masks.fragment_map
    fmap[20:26, 30:35] = 1  # a small object: 30 pixels, one voxel each
    masks = MaskResult(None, np.array([1.0, 1.0], np.float32), fmap)
    off = LiftConfig(point_budget=300, budget_sampling=sampling, keep_small_fragments=0)
    thinned, frags = lift_frame(frame, masks, off)
    assert frags.mask_index.tolist() == [0]  # about 3 of its 30 points survive the budget: dropped
    cfg = LiftConfig(point_budget=300, budget_sampling=sampling, keep_small_fragments=40)
    points, frags = lift_frame(frame, masks, cfg)
    assert len(points.xyz) == 300 and frags.mask_index.tolist() == [0, 1]
    assert frags.num_points[1] == 30  # all of it
    assert lift_frame(frame, masks, cfg)[0].pixel.tolist() == points.pixel.tolist()  # deterministic


def test_lift_rejects_unknown_budget_sampling():
    frame, masks = _room_frame()
    with pytest.raises(ValueError, match="budget_sampling"):
        lift_frame(frame, masks, LiftConfig(point_budget=10, budget_sampling="stride"))


def test_lift_rejects_wrong_map_shape():
    frame, masks = _frame()
    masks.fragment_map = masks.fragment_map[:, :4]
    with pytest.raises(ValueError, match="fragment map shape"):
        lift_frame(frame, masks, LiftConfig())
