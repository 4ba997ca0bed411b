import numpy as np
import pytest
import torch

from samosaic3d_core.geometry import (
    backproject, box_axis_gaps, box_centre_distance, box_gap, box_iou, box_volume, boxes_from_corners, group_boxes,
    hash_sample, key_hash, majority_vote, points_box, project, sample_indices, voxel_downsample, voxelize,
)
from samosaic3d_core.types import CameraIntrinsics, check_rigid


def test_backproject_exact_pixels():
    k = CameraIntrinsics(fx=2.0, fy=4.0, cx=1.0, cy=1.0, width=3, height=2)
    depth = np.array([[2.0, 0.0, np.nan], [1.0, np.inf, 4.0]], np.float32)
    xyz, pixel = backproject(depth, k, min_depth=0.1, max_depth=3.0)
    # valid: (u0,v0,z2), (u0,v1,z1); z=4 is beyond max_depth
    assert pixel.tolist() == [0, 3]
    np.testing.assert_allclose(xyz, [[(0 - 1) * 2 / 2, (0 - 1) * 2 / 4, 2], [(0 - 1) * 1 / 2, 0.0, 1]])


def test_backproject_applies_pose_and_project_inverts():
    k = CameraIntrinsics(500.0, 500.0, 32.0, 24.0, 64, 48)
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 3.0, (48, 64)).astype(np.float32)
    pose = np.eye(4)
    c, s = np.cos(0.3), np.sin(0.3)
    pose[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    pose[:3, 3] = [1.0, -2.0, 0.5]
    xyz, pixel = backproject(depth, k, pose)
    u, v, z = project(xyz, k, pose)
    np.testing.assert_allclose(u, pixel % 64, atol=1e-3)
    np.testing.assert_allclose(v, pixel // 64, atol=1e-3)
    np.testing.assert_allclose(z, depth.reshape(-1)[pixel], rtol=1e-5)


def test_backproject_rejects_mismatched_intrinsics():
    with pytest.raises(ValueError, match="intrinsics are for 3x2"):
        backproject(np.ones((4, 4), np.float32), CameraIntrinsics(1, 1, 0, 0, 3, 2))


def test_voxelize_groups_and_keeps_first():
    xyz = np.array([[0.01, 0.01, 0.01], [0.09, 0.02, 0.03], [0.11, 0.0, 0.0], [-0.01, 0.0, 0.0]])
    keep, inverse, coords = voxelize(xyz, 0.1)
    assert coords.tolist() == [[-1, 0, 0], [0, 0, 0], [1, 0, 0]]
    assert keep.tolist() == [3, 0, 2]
    assert inverse.tolist() == [1, 1, 2, 0]


@pytest.mark.parametrize("order", ["image", "shuffled"])
def test_voxel_downsample_keeps_the_first_point_of_every_voxel_like_voxelize(order):
    k = CameraIntrinsics(300.0, 300.0, 80.0, 60.0, 160, 120)
    rng = np.random.default_rng(1)
    depth = (1.5 + 0.5 * np.sin(np.arange(160) / 9.0)[None, :] + rng.normal(0, 0.002, (120, 160))).astype(np.float32)
    depth[40:60, 50:90] = np.nan  # a hole breaks runs
    xyz, _ = backproject(depth, k, np.eye(4))
    if order == "shuffled":  # no runs at all
        xyz = xyz[rng.permutation(len(xyz))]
    keep = voxel_downsample(xyz, 0.02)
    assert np.array_equal(keep, voxelize(xyz, 0.02)[0])
    assert len(keep) < len(xyz) / 3  # many points per voxel: the run shortcut had something to skip
    assert len(voxel_downsample(np.zeros((0, 3)), 0.02)) == 0
    far = np.array([[1e6, 0.0, 0.0], [1e6, 0.0, 0.0], [0.0, 0.0, 0.0]])  # beyond the packed range
    assert voxel_downsample(far, 0.02).tolist() == voxelize(far, 0.02)[0].tolist()


def test_sample_indices_deterministic_and_bounded():
    a = sample_indices(100, 10, seed=3)
    assert len(a) == 10 and len(set(a.tolist())) == 10 and np.all(np.diff(a) > 0)
    assert np.array_equal(a, sample_indices(100, 10, seed=3))
    assert sample_indices(5, 10).tolist() == [0, 1, 2, 3, 4]


def test_hash_sample_keeps_the_smallest_hashes_and_is_stable():
    rng = np.random.default_rng(0)
    keys = rng.integers(-500, 500, size=(2000, 3))
    a = hash_sample(keys, 300, seed=1)
    assert len(a) == 300 and np.all(np.diff(a) > 0)
    h = key_hash(keys, 1)
    assert h[a].max() < np.delete(h, a).min()  # exactly the 300 smallest hashes
    assert not np.array_equal(a, hash_sample(keys, 300, seed=2))  # the seed matters
    assert hash_sample(keys[:5], 10).tolist() == [0, 1, 2, 3, 4]
    # a row's fate depends on its own key: shuffling the rows keeps the same keys
    perm = rng.permutation(len(keys))
    kept = {tuple(k) for k in keys[a]}
    assert {tuple(k) for k in keys[perm][hash_sample(keys[perm], 300, seed=1)]} == kept
    # three rows more change at most three choices (a fresh uniform draw changes most of them)
    grown = np.concatenate([keys, rng.integers(-500, 500, size=(3, 3))])
    assert len(kept - {tuple(k) for k in grown[hash_sample(grown, 300, seed=1)]}) <= 3
    assert len(set(a.tolist()) - set(sample_indices(2003, 300, seed=1).tolist())) > 200


def test_majority_vote_ties_to_smallest_label():
    group = np.array([0, 0, 0, 1, 1, 2])
    label = np.array([5, 5, 2, 7, 3, 9])
    assert majority_vote(group, label, 4).tolist() == [5, 3, 9, 0]


BOX_A = [[0, 0, 0, 2, 2, 2]]
BOX_B = [[1, 1, 1, 3, 3, 3], [0, 0, 0, 2, 2, 2], [3, 3, 3, 4, 4, 4], [0, 0, 0, 0, 0, 0], [5, 2, 0, 6, 6, 2]]


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_box_maths_exact_in_numpy_and_torch(kind):
    as_kind = (lambda x: np.array(x, np.float64)) if kind == "numpy" else (lambda x: torch.tensor(x, dtype=torch.float64))
    a, b = as_kind(BOX_A), as_kind(BOX_B)
    results = {
        "volume": box_volume(b), "iou": box_iou(a, b), "axis_gaps": box_axis_gaps(a, b), "gap": box_gap(a, b),
        "centre_distance": box_centre_distance(a, b),
    }
    for result in results.values():
        assert isinstance(result, np.ndarray if kind == "numpy" else torch.Tensor)
    results = {name: np.asarray(value) for name, value in results.items()}
    np.testing.assert_allclose(results["volume"], [8, 8, 1, 0, 8], rtol=1e-12)
    np.testing.assert_allclose(results["iou"], [[1 / 15, 1, 0, 0, 0]], rtol=1e-12)
    np.testing.assert_array_equal(results["axis_gaps"], [[[0, 0, 0], [0, 0, 0], [1, 1, 1], [0, 0, 0], [3, 0, 0]]])
    np.testing.assert_allclose(results["gap"], [[0, 0, np.sqrt(3), 0, 3]], rtol=1e-12)
    same_centre = 1e-6 if kind == "torch" else 0.0  # tensors: floored, so the gradient stays finite
    np.testing.assert_allclose(results["centre_distance"],
                               [[np.sqrt(3), same_centre, np.sqrt(18.75), np.sqrt(3), np.sqrt(29.25)]], rtol=1e-12)


def test_box_gap_gradient_is_finite_where_boxes_touch():
    a = torch.tensor(BOX_A, dtype=torch.float64, requires_grad=True)
    box_gap(a, torch.tensor(BOX_B, dtype=torch.float64)).sum().backward()
    assert torch.isfinite(a.grad).all()
    np.testing.assert_allclose(a.grad.numpy(), [[0, 0, 0, -1 / np.sqrt(3) - 1, -1 / np.sqrt(3), -1 / np.sqrt(3)]])


def test_box_layout_helpers():
    lo, hi = np.array([[0.0, 1, 2]]), np.array([[3.0, 4, 5]])
    np.testing.assert_array_equal(boxes_from_corners(lo, hi), [[0, 1, 2, 3, 4, 5]])
    torch.testing.assert_close(boxes_from_corners(torch.tensor(lo), torch.tensor(hi)), torch.tensor([[0.0, 1, 2, 3, 4, 5]],
                               dtype=torch.float64))
    np.testing.assert_array_equal(points_box(np.array([[1.0, 5, 2], [3, 0, 4]])), [1, 0, 2, 3, 5, 4])
    with pytest.raises(ValueError, match="empty point set"):
        points_box(np.zeros((0, 3)))


def test_check_rigid_messages():
    check_rigid(np.eye(4))
    bad = np.eye(4)
    bad[0, 0] = 2.0
    with pytest.raises(ValueError, match="non-rigid"):
        check_rigid(bad, "pose/000001.txt")
    with pytest.raises(ValueError, match="inf/nan"):
        check_rigid(np.full((4, 4), -np.inf))
    with pytest.raises(ValueError, match="4x4"):
        check_rigid(np.eye(3))


def test_voxelize_matches_row_unique_also_beyond_the_packed_range():
    from samosaic3d_core.geometry.voxel import voxel_keys, voxelize

    rng = np.random.default_rng(3)
    for scale in (1.0, 1e5):  # 1e5 m spans more than 2**21 voxels: the row-wise path
        xyz = rng.normal(size=(500, 3)) * scale
        xyz[10] = xyz[3]  # a shared voxel
        keep, inverse, coords = voxelize(xyz, 0.05)
        ref_coords, ref_keep, ref_inverse = np.unique(voxel_keys(xyz, 0.05), axis=0, return_index=True, return_inverse=True)
        assert np.array_equal(coords, ref_coords) and np.array_equal(keep, ref_keep)
        assert np.array_equal(inverse, ref_inverse.reshape(-1))


def test_group_boxes_exact_and_empty_groups_far_from_everything():
    xyz = np.array([[0, 0, 0], [1, 2, 3], [5, 5, 5]], float)
    boxes = group_boxes(xyz, np.array([0, 0, 2]), 3)
    np.testing.assert_array_equal(boxes[[0, 2]], [[0, 0, 0, 1, 2, 3], [5, 5, 5, 5, 5, 5]])
    assert np.isposinf(boxes[1, :3]).all() and np.isneginf(boxes[1, 3:]).all()
    assert np.isinf(box_gap(boxes, boxes)[1]).all() and box_volume(boxes[1]) == 0
    torch_boxes = group_boxes(torch.tensor(xyz, dtype=torch.float32), torch.tensor([0, 0, 2]), 3)
    assert torch_boxes.dtype == torch.float32
    np.testing.assert_array_equal(torch_boxes.numpy(), boxes.astype(np.float32))


def test_pack_voxel_keys_exact_round_trip_and_order():
    from samosaic3d_core.geometry.voxel import KEY_MAX, KEY_MIN, pack_voxel_keys, unpack_voxel_keys

    assert (KEY_MIN, KEY_MAX) == (-(1 << 20), (1 << 20) - 1)
    coords = np.array([[0, 0, 0], [-1, 0, 0], [0, 0, 1], [0, -1, 5], [KEY_MIN, KEY_MIN, KEY_MIN], [KEY_MAX, KEY_MAX, KEY_MAX]])
    keys = pack_voxel_keys(coords)
    assert keys.dtype == np.int64
    assert keys[:3].tolist() == [(1 << 62) + (1 << 41) + (1 << 20), (1 << 62) - (1 << 42) + (1 << 41) + (1 << 20),
                                 (1 << 62) + (1 << 41) + (1 << 20) + 1]
    assert keys[4] == 0 and keys[5] == (1 << 63) - 1  # the whole non-negative int64 range
    np.testing.assert_array_equal(unpack_voxel_keys(keys), coords)
    np.testing.assert_array_equal(np.argsort(keys), np.lexsort(coords.T[::-1]))  # keys sort like the rows
    assert pack_voxel_keys(np.zeros((0, 3), np.int64)).shape == (0,)


@pytest.mark.parametrize("bad", [[1 << 20, 0, 0], [0, -(1 << 20) - 1, 0], [0, 0, 1 << 21]])
def test_pack_voxel_keys_rejects_coordinates_beyond_the_range(bad):
    from samosaic3d_core.geometry.voxel import pack_voxel_keys

    with pytest.raises(ValueError, match=r"scene: voxel coordinates .* beyond \[-1048576, 1048575\].*larger voxel size"):
        pack_voxel_keys(np.array([[0, 0, 0], bad]), "scene")


def test_box_corners_of_many_boxes_are_each_boxs_and_every_edge_changes_one_axis():
    from samosaic3d_core.geometry import BOX_EDGES, box_corners

    lo = np.array([[0.0, 0.0, 0.0], [-1.0, 2.0, 0.5]])
    hi = np.array([[1.0, 2.0, 3.0], [0.0, 4.0, 0.75]])
    many = box_corners(lo, hi)
    assert many.shape == (2, 8, 3)
    for k in range(2):
        assert np.array_equal(many[k], box_corners(lo[k], hi[k]))
        assert np.array_equal(many[k].min(axis=0), lo[k]) and np.array_equal(many[k].max(axis=0), hi[k])
    assert np.array_equal(box_corners(lo[0], hi[0])[5], [1.0, 0.0, 3.0])  # bits x and z set
    steps = np.abs(many[0][BOX_EDGES[:, 0]] - many[0][BOX_EDGES[:, 1]]) > 0
    assert (steps.sum(axis=1) == 1).all() and len({tuple(e) for e in np.sort(BOX_EDGES, axis=1)}) == 12
