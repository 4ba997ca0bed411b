"""Frame-to-map pose refinement: wrong poses come back, unalignable frames keep the tracker's."""

import dataclasses

import numpy as np
import pytest

from samosaic3d_core.data.synth import SynthConfig, generate_scene
from samosaic3d_core.geometry import backproject, voxel_downsample
from samosaic3d_core.geometry.rigid import pose_error, transform, twist
from samosaic3d_core.pose_refine import PoseRefiner, RefineConfig
from samosaic3d_core.types import CameraIntrinsics, Frame

ON = RefineConfig(enabled=True, min_map_points=500, start_after=0)


@pytest.fixture(scope="module")
def scene_and_map():
    """A small synthetic scene and a 2 cm map fused from its first 8 frames with the true poses."""
    scene = generate_scene(SynthConfig(width=160, height=120, frames=40), 300)
    clouds = [backproject(f.depth, f.intrinsics, f.pose, 0.1, 10.0)[0] for f in (scene.frame(i) for i in range(8))]
    cloud = np.concatenate(clouds)
    return scene, cloud[voxel_downsample(cloud, 0.02)]


def shifted(frame, xi):
    return dataclasses.replace(frame, pose=frame.pose @ twist(np.asarray(xi, float)))  # about the camera


@pytest.mark.parametrize("xi", [[0.01, -0.01, 0.02, 0.03, -0.02, 0.01], [-0.02, 0.015, 0.0, -0.04, 0.03, 0.02]])
def test_a_frame_with_a_wrong_pose_is_refined_back(scene_and_map, xi):
    scene, surface = scene_and_map
    truth = scene.true_poses[9]
    frame = shifted(scene.frame(9), xi)
    before = pose_error(frame.pose, truth)
    result = PoseRefiner(ON)(frame, surface)
    after = pose_error(result.pose, truth)
    assert result.refined, result.status
    assert before[0] > 0.03 and after[0] < 0.01 and np.rad2deg(after[1]) < 0.2
    assert np.array_equal(result.tracker_pose, frame.pose)
    assert np.allclose(result.correction @ result.tracker_pose, result.pose)
    assert result.fitness > 0.9 and result.rmse < 0.005


def test_an_exact_pose_is_left_alone(scene_and_map):
    scene, surface = scene_and_map
    frame = scene.frame(9)
    result = PoseRefiner(ON)(frame, surface)
    assert result.status in ("unchanged", "no_gain") and np.array_equal(result.pose, frame.pose)


def noisy(frame, rng, sigma_at_1m=0.005):
    """``frame`` with depth noise growing with the square of the distance (a structured-light camera's)."""
    d = frame.depth.astype(np.float64)
    return dataclasses.replace(frame, depth=np.where(d > 0, d + rng.normal(0, sigma_at_1m, d.shape) * d**2, 0)
                               .astype(np.float32))


def test_noisy_depth_does_not_move_an_exact_pose_unless_the_change_is_significant(scene_and_map):
    scene, surface = scene_and_map
    outcomes = {}
    for significance in (0.0, RefineConfig().min_significance):
        rng = np.random.default_rng(0)
        config = dataclasses.replace(ON, min_significance=significance)
        results = [(PoseRefiner(config)(noisy(scene.frame(i), rng), surface), scene.true_poses[i]) for i in range(9, 30)]
        outcomes[significance] = ([r.status for r, _ in results].count("refined"),
                                  np.mean([pose_error(r.pose, truth)[0] for r, truth in results]))
    (moved_off, error_off), (moved_on, error_on) = outcomes.values()
    assert moved_on < moved_off and error_on < error_off
    frame = shifted(noisy(scene.frame(9), np.random.default_rng(1), 0.0025), [0.01, -0.01, 0.02, 0.03, -0.02, 0.01])
    result = PoseRefiner(ON)(frame, surface)  # a real offset still comes back, noise and all
    assert result.refined and pose_error(result.pose, scene.true_poses[9])[0] < 0.5 * pose_error(frame.pose,
                                                                                                    scene.true_poses[9])[0]


def plane_frame(depth_m=2.0, size=(80, 60)):
    """A camera looking straight at a flat wall: nothing pins the motion along the wall."""
    w, h = size
    k = CameraIntrinsics(70.0, 70.0, (w - 1) / 2, (h - 1) / 2, w, h)
    return Frame(rgb=np.zeros((h, w, 3), np.uint8), depth=np.full((h, w), depth_m, np.float32),
                 pose=np.eye(4), intrinsics=k)


def test_an_unalignable_frame_keeps_its_tracker_pose():
    frame = plane_frame()
    g = np.mgrid[-2:2:0.02, -2:2:0.02].reshape(2, -1).T
    wall = np.column_stack([g, np.full(len(g), 2.0)])
    wrong = dataclasses.replace(frame, pose=transform(t=np.array([0.05, 0.03, 0.0])))
    result = PoseRefiner(ON)(wrong, wall)
    assert result.status == "degenerate" and np.array_equal(result.pose, wrong.pose)

    elsewhere = wall + np.array([0.0, 0.0, 3.0])  # a map that is not what the frame sees
    result = PoseRefiner(ON)(wrong, elsewhere)
    assert not result.refined and np.array_equal(result.pose, wrong.pose)
    assert PoseRefiner(ON)(wrong, wall[:100]).status == "no_map"


def test_off_and_the_correction_is_carried(scene_and_map):
    scene, surface = scene_and_map
    frame = shifted(scene.frame(9), [0.0, 0.0, 0.01, 0.04, 0.0, 0.0])
    off = PoseRefiner(RefineConfig(enabled=False))(frame, surface)
    assert off.status == "off" and np.array_equal(off.pose, frame.pose)

    refiner = PoseRefiner(ON)
    assert refiner(frame, surface).refined
    drift = twist(np.array([0.0, 0.0, 0.01, 0.04, 0.0, 0.0]))  # the same tracker error on the next frame
    nxt = dataclasses.replace(scene.frame(10), pose=drift @ scene.frame(10).pose)
    result = refiner(nxt, surface)
    assert pose_error(result.pose, scene.true_poses[10])[0] < 0.01
    assert result.iterations <= refiner(nxt, surface).iterations + 1  # started near the answer
    refiner.reset()
    bad = dataclasses.replace(plane_frame(), pose=scene.true_poses[10])
    assert np.array_equal(refiner(bad, surface).pose, bad.pose)  # after reset nothing is carried


def test_a_relocalised_tracker_is_followed_unless_the_margin_forbids_it(scene_and_map):
    """Three frames carry the tracker's growing error (4, 8, 12 cm) into the correction; the fourth comes
    with an exact pose (the tracker relocalised), which fits far better than the carried start."""
    scene, surface = scene_and_map
    direction = np.array([0.6, 0.6, 0.5])
    ends = {}
    for margin in (RefineConfig().carry_margin, 1e6):
        refiner = PoseRefiner(dataclasses.replace(ON, carry_margin=margin))
        for i, offset in ((9, 0.04), (10, 0.08), (11, 0.12)):
            drifted = dataclasses.replace(scene.frame(i), pose=transform(t=offset * direction) @ scene.frame(i).pose)
            assert pose_error(refiner(drifted, surface).pose, scene.true_poses[i])[0] < 0.02
        ends[margin] = pose_error(refiner(scene.frame(12), surface).pose, scene.true_poses[12])[0]
    assert ends[RefineConfig().carry_margin] < 0.01  # followed
    assert ends[1e6] > 0.05  # kept the carried start, 12 cm off: a step back that large is refused


def test_the_first_frames_keep_the_tracker_pose(scene_and_map):
    scene, surface = scene_and_map
    refiner = PoseRefiner(dataclasses.replace(ON, start_after=2))
    frame = shifted(scene.frame(9), [0.0, 0.0, 0.01, 0.04, 0.0, 0.0])
    first = [refiner(frame, surface) for _ in range(3)]
    assert [c.status for c in first] == ["not_started", "not_started", "refined"]
    assert np.array_equal(first[0].pose, frame.pose)
    assert RefineConfig().enabled and RefineConfig().start_after == 5  # the defaults


def test_config_is_checked():
    with pytest.raises(ValueError, match="min_distance"):
        RefineConfig(min_distance=0.2, max_distance=0.1)
    with pytest.raises(ValueError, match="huber"):
        RefineConfig(huber=0)
    with pytest.raises(ValueError, match="min_significance"):
        RefineConfig(min_significance=-1)
    with pytest.raises(ValueError, match="carry_margin"):
        RefineConfig(carry_margin=-0.1)


def test_the_segmenter_fuses_a_frame_with_its_refined_pose(scene_and_map):
    from scipy.spatial import cKDTree

    from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig

    scene, _ = scene_and_map
    seg = OnlineSegmenter.from_config(SegmenterConfig.from_flat(
        {"pipeline": "baseline", "masks.source": "oracle", "refine.min_map_points": 500, "refine.start_after": 0}))
    for i in range(8):
        seg.step(scene.frame(i))
    truth = scene.frame(9)
    result = seg.step(shifted(truth, [0.01, -0.01, 0.02, 0.03, -0.02, 0.01]))
    assert result.pose_correction.refined and "refine" in result.timings
    true_cloud = backproject(truth.depth, truth.intrinsics, truth.pose, 0.1, 10.0)[0]
    gap, _ = cKDTree(true_cloud).query(result.points.xyz)
    assert np.median(gap) < 0.01  # lifted with the refined pose, not the wrong one (several cm off)
    assert result.pose_correction.change()[0] > 0.03
