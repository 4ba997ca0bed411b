"""The baseline frame model (fragments as instances) and heuristic associator, on exact small cases."""

import numpy as np

from samosaic3d_core.baseline import (
    AssociationConfig,
    FragmentsAsInstances,
    DescriptorConfig,
    HeuristicAssociator,
    color_descriptor,
)
from samosaic3d_core.memory import MemoryConfig, SceneMemory
from samosaic3d_core.types import Fragments, FramePoints, Instances

VOXEL = 0.1


def test_color_descriptor_exact():
    rgb = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [255, 0, 0]], np.uint8)
    desc = color_descriptor(rgb, np.array([0, 0, 1, 1]), 3, bins=2)
    assert desc.shape == (3, 9)
    half = np.sqrt(0.5)
    a = np.array([half, half, half, half, half, half, 0.5, 0.5, 0.5])  # two bins per channel, mean 0.5
    b = np.array([0, 1, 1, 0, 1, 0, 1, 0, 0], float)  # red: high R bin, low G/B bins, mean (1, 0, 0)
    np.testing.assert_allclose(desc[0], a / np.linalg.norm(a), rtol=1e-6)
    np.testing.assert_allclose(desc[1], b / np.linalg.norm(b), rtol=1e-6)
    np.testing.assert_array_equal(desc[2], 0)  # no points


def test_fragments_as_instances():
    points = FramePoints(
        np.zeros((4, 3), np.float32), np.full((4, 3), 10, np.uint8), np.arange(4), np.array([1, -1, 0, 1], np.int32)
    )
    frags = Fragments(
        mask_index=np.array([3, 5]), centroid=np.zeros((2, 3), np.float32), box_min=np.zeros((2, 3), np.float32),
        box_max=np.ones((2, 3), np.float32), num_points=np.array([1, 2]), score=np.array([0.3, 0.8], np.float32),
    )
    model = FragmentsAsInstances(DescriptorConfig(color_bins=4))
    inst, local = model(None, points, frags)
    assert local.tolist() == [2, 0, 1, 2]
    assert inst.ids.tolist() == [1, 2]
    np.testing.assert_allclose(inst.scores, [0.3, 0.8])
    assert inst.feats.shape == (2, model.feat_dim) == (2, 15)


def frame_obs(memory, groups, feats):
    """Observation of frame instances k+1 occupying the voxel cells ``groups[k]`` (one point each)."""
    coords = np.array([c for g in groups for c in g], np.float64)
    local = np.concatenate([np.full(len(g), k + 1) for k, g in enumerate(groups)])
    xyz = ((coords + 0.5) * VOXEL).astype(np.float32)
    points = FramePoints(xyz, np.zeros((len(xyz), 3), np.uint8), np.arange(len(xyz)), (local - 1).astype(np.int32))
    num = len(groups)
    inst = Instances(
        ids=np.arange(1, num + 1), scores=np.ones(num, np.float32),
        box_min=np.array([xyz[local == k + 1].min(0) for k in range(num)]),
        box_max=np.array([xyz[local == k + 1].max(0) for k in range(num)]),
        num_points=np.array([len(g) for g in groups]), feats=np.asarray(feats, np.float32),
    )
    return memory.observe(points, inst, local, 0, 0.0)


def block(x0, x1, y0=0, y1=2, z0=0, z1=2):
    return [(x, y, z) for x in range(x0, x1) for y in range(y0, y1) for z in range(z0, z1)]


RED, BLUE = [1.0, 0.0], [0.0, 1.0]


def map_with_two_blocks():
    memory = SceneMemory(MemoryConfig(map_voxel_size=VOXEL, association_voxel_size=VOXEL, association_borrow=False,
                                      confidence="support"))
    obs = frame_obs(memory, [block(0, 10), block(20, 24)], [RED, BLUE])
    memory.integrate(obs, np.zeros(2, np.int64))  # id 1: long red block, id 2: small blue block
    return memory


def test_partial_view_matches_by_overlap_despite_low_iou():
    memory = map_with_two_blocks()
    obs = frame_obs(memory, [block(0, 2)], [RED])  # a fifth of block 1; point boxes: IoU 0.1 / 0.9
    assoc = HeuristicAssociator()
    score = assoc.merge_scores(obs, memory.instances())
    np.testing.assert_allclose(score, [[0.3 / 9 + 0.5 * 1.0 + 0.2 * 1.0, 0.0]], rtol=1e-5)  # block 2 is 1 m away
    assert assoc(obs, memory).tolist() == [1]
    # without the overlap cue the same view is not recognised
    no_overlap = HeuristicAssociator(AssociationConfig(overlap_weight=0.0, overlap_join_threshold=2.0))
    assert no_overlap(obs, memory).tolist() == [0]


def test_colour_alone_never_merges():
    memory = map_with_two_blocks()
    obs = frame_obs(memory, [block(11, 13)], [RED])  # same colour, 0.1 m beside block 1, no overlap
    assert HeuristicAssociator()(obs, memory).tolist() == [0]


def test_hungarian_is_one_to_one_and_overlap_joins_leftovers():
    memory = map_with_two_blocks()
    # two frame instances on block 1: the bigger overlap/IoU wins the match, the other joins by overlap
    obs = frame_obs(memory, [block(0, 3), block(3, 10)], [RED, RED])
    assoc = HeuristicAssociator(AssociationConfig(overlap_join_threshold=2.0))
    assert assoc(obs, memory).tolist() == [0, 1]
    assert HeuristicAssociator()(obs, memory).tolist() == [1, 1]
    # a frame instance mostly on new ground is left alone: 4 of its 12 voxels owned
    obs = frame_obs(memory, [block(8, 11, 0, 2, 0, 1) + block(11, 14, 0, 2, 0, 1)], [BLUE])
    np.testing.assert_allclose(obs.owned_fraction()[0, 1], 4 / 12)
    assert HeuristicAssociator()(obs, memory).tolist() == [0]


def test_empty_cases():
    memory = SceneMemory(MemoryConfig(map_voxel_size=VOXEL, association_voxel_size=VOXEL, association_borrow=False,
                                      confidence="support"))
    obs = frame_obs(memory, [block(0, 2)], [RED])
    assert HeuristicAssociator()(obs, memory).tolist() == [0]  # empty map


def test_color_descriptor_of_no_points():
    desc = color_descriptor(np.zeros((0, 3), np.uint8), np.zeros(0, np.int64), 2, 4)
    assert desc.shape == (2, 15) and not desc.any()
