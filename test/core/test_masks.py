import dataclasses

import numpy as np
import pytest

from samosaic3d_core.masks import default_mask_source, fragment_map_from_masks, make_mask_source, result_from_labels
from samosaic3d_core.masks import oversegment
from samosaic3d_core.masks.base import depth_edges, label_counts
from samosaic3d_core.masks.regions import adjacent_pairs, split_components
from samosaic3d_core.masks.sim import SimConfig, SimMasks

from test.core.mask_fixtures import block_frame


def check_result(result, shape):
    k = len(result)
    assert result.masks.shape == (k, *shape) and result.masks.dtype == bool
    assert result.scores.shape == (k,) and np.all((result.scores >= 0) & (result.scores <= 1))
    fmap = result.fragment_map
    assert fmap.shape == shape and fmap.min() >= -1 and fmap.max() < k
    for i in range(k):  # every pixel of the map belongs to the mask it points at
        assert result.masks[i][fmap == i].all()


def test_fragment_map_puts_smaller_masks_on_top():
    masks = np.zeros((2, 4, 4), bool)
    masks[0] = True  # whole image
    masks[1, :2, :2] = True  # a part of it
    fmap = fragment_map_from_masks(masks)
    assert (fmap[:2, :2] == 1).all() and (fmap[2:, :] == 0).all()


def test_result_from_labels_drops_small_regions_and_background():
    labels = np.array([[0, 1, 1], [2, 1, 1], [5, 5, 5]])
    result = result_from_labels(labels, {1: 0.9, 5: 0.4}, min_area=2)
    assert len(result) == 2
    assert result.fragment_map.tolist() == [[-1, 0, 0], [-1, 0, 0], [1, 1, 1]]
    np.testing.assert_allclose(result.scores, [0.9, 0.4])


def test_regions_helpers():
    labels = np.array([[1, 1, 0, 1], [2, 2, 0, 1]])
    assert adjacent_pairs(labels).tolist() == [[1, 2]]
    comps = split_components(labels)
    assert len(np.unique(comps[comps > 0])) == 3  # label 1 is two pieces


def test_split_components_orders_ids_by_label_then_first_pixel():
    # label 5 has pieces starting at (0, 3) and (2, 0); label 2 one piece; 0 and negatives stay 0
    labels = np.array([[2, 2, 0, 5], [0, 0, 0, 5], [5, 5, -1, 0]])
    assert split_components(labels, start=10).tolist() == [[10, 10, 0, 11], [0, 0, 0, 11], [12, 12, 0, 0]]
    # 4-connected only: diagonal pixels of one label are two pieces
    assert split_components(np.array([[3, 0], [0, 3]])).tolist() == [[1, 0], [0, 2]]
    assert split_components(np.zeros((2, 2), np.int64)).tolist() == [[0, 0], [0, 0]]
    depth = np.array([[1.0, 1.0, 2.0], [1.0, 1.0, 2.0]], np.float32)
    assert depth_edges(depth, 0.1).tolist() == [[False, True, True], [False, True, True]]


def test_oracle_is_one_mask_per_instance():
    frame = block_frame()
    result = make_mask_source("oracle")(frame)
    check_result(result, frame.shape)
    assert len(result) == 2
    assert (result.fragment_map >= 0).sum() == (frame.instance_gt > 0).sum()


def test_oracle_without_ground_truth_names_the_frame():
    frame = block_frame(index=7)
    frame.instance_gt = None
    with pytest.raises(ValueError, match="frame 7.*ground-truth"):
        make_mask_source("oracle")(frame)


def test_sim_without_mistakes_returns_the_parts():
    cfg = SimConfig(split_prob=0, merge_prob=0, cross_merge_prob=0, erode_px=0, boundary_noise=0, miss_prob=0,
                    min_area=1, background=False)
    frame = block_frame()
    result = SimMasks(cfg)(frame)
    check_result(result, frame.shape)
    assert len(result) == 3
    for k in range(3):
        assert len(np.unique(frame.part_gt[result.masks[k]])) == 1


def test_sim_merge_joins_parts_of_one_object_only():
    cfg = SimConfig(split_prob=0, merge_prob=1, cross_merge_prob=0, erode_px=0, boundary_noise=0, miss_prob=0,
                    min_area=1, background=False)
    frame = block_frame()
    result = SimMasks(cfg)(frame)
    assert len(result) == 2  # parts 1+2 merged (same object); part 3 does not touch them
    instances = sorted(tuple(np.unique(frame.instance_gt[m])) for m in result.masks)
    assert instances == [(1,), (2,)]


def test_sim_split_erode_miss_and_background():
    frame = block_frame()
    split = SimMasks(SimConfig(split_prob=1, merge_prob=0, erode_px=0, boundary_noise=0, miss_prob=0,
                               min_area=5, background=False))(frame)
    assert len(split) > 3
    eroded = SimMasks(SimConfig(split_prob=0, merge_prob=0, erode_px=1, boundary_noise=0, miss_prob=0,
                                background=False, min_area=1))(frame)
    assert (eroded.fragment_map >= 0).sum() < (frame.part_gt > 0).sum()
    missed = SimMasks(SimConfig(miss_prob=1, background=False))(frame)
    assert len(missed) == 0
    with_wall = SimMasks(SimConfig(split_prob=0, merge_prob=0, miss_prob=0, min_area=1, erode_px=0, boundary_noise=0))(frame)
    assert len(with_wall) > 3 and (with_wall.fragment_map[frame.part_gt == 0] >= 0).any()


def test_sim_is_seeded_per_frame():
    frame = block_frame(index=3)
    a = SimMasks(SimConfig(seed=1, split_prob=0.5))(frame)
    b = SimMasks(SimConfig(seed=1, split_prob=0.5))(frame)
    assert np.array_equal(a.fragment_map, b.fragment_map) and np.array_equal(a.scores, b.scores)


def test_oversegment_respects_colour_and_depth_edges():
    frame = block_frame()
    result = make_mask_source("oversegment", min_area=20, downsample=1, min_size=5)(frame)
    check_result(result, frame.shape)
    # no fragment straddles two ground-truth parts (they differ in colour) or part and wall (depth)
    for mask in result.masks:
        assert len(np.unique(frame.part_gt[mask])) == 1
    assert len(result) >= 3


def _doubled(frame):
    """``frame`` at twice the resolution per side (each pixel repeated 2x2)."""
    k = frame.intrinsics

    def twice(image):
        return image.repeat(2, 0).repeat(2, 1)

    return dataclasses.replace(
        frame, rgb=twice(frame.rgb), depth=twice(frame.depth), instance_gt=twice(frame.instance_gt),
        part_gt=twice(frame.part_gt),
        intrinsics=dataclasses.replace(k, fx=2 * k.fx, fy=2 * k.fy, cx=2 * k.cx + 0.5, cy=2 * k.cy + 0.5,
                                       width=2 * k.width, height=2 * k.height))


def test_oversegment_segments_a_larger_image_at_the_reference_width():
    small = block_frame()
    big = _doubled(small)
    options = dict(min_area=20, downsample=1, min_size=5, reference_width=64)
    a = make_mask_source("oversegment", **options)(small)
    b = make_mask_source("oversegment", **options)(big)
    check_result(b, big.shape)
    assert len(b) == len(a) and np.array_equal(b.scores, a.scores)
    expected = a.fragment_map.repeat(2, 0).repeat(2, 1)
    edges = depth_edges(big.depth, 0.05)
    assert np.array_equal(b.fragment_map[~edges], expected[~edges])
    assert (b.fragment_map[edges] == -1).all()
    # at its own resolution the larger image would be cut into pieces of a different size
    full = make_mask_source("oversegment", **{**options, "reference_width": 0})(big)
    assert not np.array_equal(full.fragment_map, b.fragment_map)


def test_oversegment_pieces_cover_the_same_share_of_the_view_at_any_resolution(monkeypatch):
    monkeypatch.setattr(oversegment, "AUTO_SEGMENT_WIDTH", 64)  # block frames are 64 pixels wide
    small = block_frame()
    big = _doubled(small)
    options = dict(min_area=20, min_size=5)  # downsample 0: automatic
    a = make_mask_source("oversegment", **options)(small)
    b = make_mask_source("oversegment", **options)(big)
    check_result(b, big.shape)
    assert len(a) >= 3

    def pieces(result):  # each piece at the small frame's resolution
        return {mask[::2, ::2].tobytes() for mask in result.masks}

    # every piece of the small frame is a piece of the large one (which keeps a few more that the
    # small frame's depth edges, one pixel wide at either resolution, pushed under min_area)
    assert all(mask.tobytes() in pieces(b) for mask in a.masks)
    # a fixed subsampling segments the larger image at its own scale: pieces of other sizes
    fixed = make_mask_source("oversegment", **options, downsample=1)(big)
    assert sum(mask.tobytes() in pieces(fixed) for mask in a.masks) < len(a) / 2


def test_default_source_and_unknown_names():
    assert type(default_mask_source()).__name__ == "OversegmentMasks"
    with pytest.raises(ValueError, match="unknown mask source 'sam9'"):
        make_mask_source("sam9")
    with pytest.raises(ValueError, match="unknown option"):
        make_mask_source("sim", split=0.5)
    with pytest.raises(ValueError, match="split_prob"):
        make_mask_source("sim", split_prob=2.0)


def test_label_counts_equal_unique():
    rng = np.random.default_rng(0)
    labels = rng.integers(-2, 40, (30, 50))
    labels[labels == 17] = 3  # a label missing from the middle
    expected_ids, expected_counts = np.unique(labels[labels > 0], return_counts=True)
    ids, counts = label_counts(labels)
    assert np.array_equal(ids, expected_ids) and np.array_equal(counts, expected_counts)
    for empty in (np.zeros((4, 4), int), np.full((4, 4), -1), np.zeros((0, 0), int)):
        ids, counts = label_counts(empty)
        assert len(ids) == 0 and len(counts) == 0
