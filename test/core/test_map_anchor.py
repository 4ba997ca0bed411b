"""refine.anchor: the map is published in the frame of the tracker's average pose when asked."""

import dataclasses

import numpy as np
import pytest

from samosaic3d_core.geometry.rigid import inverse, pose_error, rotation, transform, twist
from samosaic3d_core.map_anchor import TrackerAnchor, apply_to_boxes, apply_to_points


def random_poses(n, rng):
    return [transform(rotation(rng.normal(0, 0.8, 3)), rng.uniform(-2, 2, 3)) for _ in range(n)]


def test_the_fit_undoes_the_maps_offset_when_the_tracker_only_jitters():
    rng = np.random.default_rng(0)
    offset = transform(rotation(np.radians([0.3, -0.5, 0.4])), np.array([0.03, -0.02, 0.01]))
    anchor = TrackerAnchor()
    for true in random_poses(400, rng):
        jitter = twist(np.concatenate([np.radians(rng.normal(0, 1.0, 3)), rng.normal(0, 0.01, 3)]))
        anchor.add(true @ jitter, offset @ true)  # the tracker: truth with its own error; the map: off by offset
    metres, degrees = pose_error(anchor.transform(), inverse(offset))
    assert metres < 0.004 and degrees < 0.1  # the offset is 3.7 cm and 0.7 deg


def test_identity_before_any_frame_and_with_exact_poses():
    anchor = TrackerAnchor()
    assert np.array_equal(anchor.transform(), np.eye(4))
    for pose in random_poses(5, np.random.default_rng(1)):
        anchor.add(pose, pose)
    assert np.allclose(anchor.transform(), np.eye(4), atol=1e-9) and anchor.frames == 5
    anchor.reset()
    assert anchor.frames == 0
    with pytest.raises(ValueError, match="4x4"):
        anchor.add(np.eye(3), np.eye(4))


def test_boxes_are_bounded_after_the_transform():
    quarter_turn = transform(rotation(np.array([0.0, 0.0, np.pi / 2])), np.array([1.0, 0.0, 0.0]))
    box_min, box_max = apply_to_boxes(quarter_turn, np.array([[0.0, 0.0, 0.0]]), np.array([[2.0, 1.0, 3.0]]))
    assert np.allclose(box_min, [[0.0, 0.0, 0.0]], atol=1e-6) and np.allclose(box_max, [[1.0, 2.0, 3.0]], atol=1e-6)
    assert apply_to_boxes(quarter_turn, np.zeros((0, 3)), np.zeros((0, 3)))[0].shape == (0, 3)
    assert np.allclose(apply_to_points(quarter_turn, np.array([[1.0, 0.0, 0.0]])), [[1.0, 1.0, 0.0]], atol=1e-6)


@pytest.fixture(scope="module")
def scene():
    from samosaic3d_core.data.synth import SynthConfig, generate_scene

    return generate_scene(SynthConfig(width=160, height=120, frames=12), 300)


class OffsetRefiner:
    """Stands in for refinement that has tied every frame to a map built off by ``offset``."""

    def __init__(self, offset):
        self.offset = offset

    def __call__(self, frame, map_points):
        from samosaic3d_core.pose_refine import PoseCorrection

        return PoseCorrection(frame.pose.copy(), self.offset @ frame.pose, "refined")

    def reset(self):
        pass


def test_the_map_is_published_where_the_tracker_puts_it(scene):
    from scipy.spatial import cKDTree

    from samosaic3d_core.geometry import backproject
    from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig

    offset = transform(rotation(np.radians([0.3, -0.3, 0.6])), np.array([0.02, -0.01, 0.0]))
    tree = cKDTree(np.concatenate([backproject(f.depth, f.intrinsics, f.pose, 0.1, 10.0)[0]
                                   for f in (scene.frame(i) for i in range(12))]))
    gap, pose_gap = {}, {}
    for anchor in ("first", "tracker_mean"):
        seg = OnlineSegmenter.from_config(SegmenterConfig.from_flat(
            {"pipeline": "baseline", "masks.source": "oracle", "refine.anchor": anchor}))
        seg.refiner = OffsetRefiner(offset)
        for i in range(12):
            result = seg.step(scene.frame(i))
        scene_map, instances = seg.map(), seg.instances()
        gap[anchor] = float(np.median(tree.query(scene_map.xyz)[0]))
        gap[anchor + " frame"] = float(np.median(tree.query(result.points.xyz)[0]))
        pose_gap[anchor] = pose_error(result.pose_correction.pose, scene.frame(11).pose)[0]
        for inst in instances:  # every instance's box holds its points
            xyz = scene_map.xyz[scene_map.instance_ids == inst.ids[0]]
            assert ((xyz >= inst.box_min - 1e-4) & (xyz <= inst.box_max + 1e-4)).all()
        assert (result.frame_instances.box_min <= result.frame_instances.box_max).all()
    assert gap["first"] > 0.01 and gap["tracker_mean"] < 0.002, gap  # the offset moves points 2-5 cm
    assert gap["first frame"] > 0.01 and gap["tracker_mean frame"] < 0.002, gap
    assert pose_gap["first"] > 0.02 and pose_gap["tracker_mean"] < 1e-6, pose_gap


def test_loading_a_state_restarts_the_fit(scene, tmp_path):
    from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig

    seg = OnlineSegmenter.from_config(SegmenterConfig.from_flat(
        {"pipeline": "baseline", "masks.source": "oracle", "refine.anchor": "tracker_mean"}))
    seg.refiner = OffsetRefiner(transform(None, np.array([0.05, 0.0, 0.0])))
    for i in range(3):
        seg.step(scene.frame(i))
    assert seg.anchor.frames == 3
    seg.save(tmp_path / "state.npz")
    seg.load(tmp_path / "state.npz")
    assert seg.anchor.frames == 0 and np.array_equal(seg.anchor.transform(), np.eye(4))


def test_jitter_is_the_median_change_of_consecutive_corrections():
    rng = np.random.default_rng(2)
    smooth, jittery = TrackerAnchor(), TrackerAnchor()
    for k, true in enumerate(random_poses(40, rng)):
        drift = transform(rotation(np.radians([0.0, 0.0, 0.05 * k])), np.array([0.002 * k, 0.0, 0.0]))
        smooth.add(drift @ true, true)
        jittery.add(true @ twist(np.concatenate([np.radians(rng.normal(0, 1.0, 3)), np.zeros(3)])), true)
        if k == 5:
            assert np.isnan(smooth.jitter_deg())  # too few changes to tell
    assert smooth.jitter_deg() < 0.1 < 0.5 < jittery.jitter_deg() < 5.0


class TruthRefiner:
    """Stands in for refinement that aligns every frame exactly to a map off by ``offset``."""

    def __init__(self, offset, truth):
        self.offset, self.truth = offset, truth

    def __call__(self, frame, map_points):
        from samosaic3d_core.pose_refine import PoseCorrection

        return PoseCorrection(frame.pose.copy(), self.offset @ self.truth[frame.index], "refined")

    def reset(self):
        pass


@pytest.mark.parametrize("jitter_deg, moved", [(0.0, False), (1.5, True)])
def test_auto_anchors_only_when_the_trackers_poses_jitter(scene, jitter_deg, moved):
    from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig

    rng = np.random.default_rng(3)
    offset = transform(rotation(np.radians([0.3, -0.3, 0.6])), np.array([0.02, -0.01, 0.0]))
    frames = [scene.frame(i) for i in range(12)]
    seg = OnlineSegmenter.from_config(SegmenterConfig.from_flat(
        {"pipeline": "baseline", "masks.source": "oracle", "refine.anchor": "auto"}))
    seg.refiner = TruthRefiner(offset, {f.index: f.pose for f in frames})
    for frame in frames:
        noise = twist(np.concatenate([np.radians(rng.normal(0, jitter_deg, 3)), np.zeros(3)]))
        seg.step(dataclasses.replace(frame, pose=frame.pose @ noise))
    assert (seg.published_frame() is not None) == moved
    if moved:
        metres, degrees = pose_error(seg.published_frame(), inverse(offset))
        assert degrees < np.radians(0.7)  # the offset is 0.7 deg; 11 noisy poses average to well below
