"""A small stand-in with ``OnlineSegmenter``'s interface, for node tests: every colour except the
background colour is one object; the map is every point seen.

Run as a script to start ``samosaic3d_node`` with it:  python -m test.ros.fake_segmenter [--managed] --ros-args ...
"""

from __future__ import annotations

import sys
import time
import zipfile

import numpy as np

from samosaic3d_core.geometry import backproject, points_box
from samosaic3d_core.types import FramePoints, Fragments, Instances, MaskResult, SceneMap, StepResult

BACKGROUND = (50, 50, 50)
SCORE = 0.875  # every instance's score
FORMAT = "fake-segmenter-map"


def _color_key(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, np.int64)
    return rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]


class FakeSegmenter:
    def __init__(self, params=None, min_depth: float = 0.1, max_depth: float = 6.0):
        self.min_depth, self.max_depth = min_depth, max_depth
        self.reset()

    def reset(self) -> None:
        self.xyz = np.zeros((0, 3), np.float32)
        self.rgb = np.zeros((0, 3), np.uint8)
        self.ids = np.zeros(0, np.int32)
        self.color_ids: dict[int, int] = {}  # colour key -> instance id
        self.first_seen: dict[int, float] = {}
        self.last_seen: dict[int, float] = {}
        self.num_frames = 0

    def step(self, frame) -> StepResult:
        started = time.perf_counter()
        xyz, pixel = backproject(frame.depth, frame.intrinsics, frame.pose, self.min_depth, self.max_depth)
        rgb = frame.rgb.reshape(-1, 3)[pixel]
        keys = _color_key(rgb)
        created = []
        for key in np.unique(keys[keys != _color_key(np.array(BACKGROUND))]).tolist():
            if key not in self.color_ids:
                self.color_ids[key] = len(self.color_ids) + 1
                created.append(self.color_ids[key])
        point_instance = np.array([self.color_ids.get(k, 0) for k in keys.tolist()], np.int32)
        present = sorted(set(point_instance.tolist()) - {0})
        for instance_id in present:
            self.first_seen.setdefault(instance_id, frame.timestamp)
            self.last_seen[instance_id] = frame.timestamp
        self.xyz = np.concatenate([self.xyz, xyz])
        self.rgb = np.concatenate([self.rgb, rgb])
        self.ids = np.concatenate([self.ids, point_instance])
        self.num_frames += 1

        h, w = frame.shape
        fragment = np.searchsorted(present, point_instance).astype(np.int32)  # index into present
        fragment[point_instance == 0] = -1
        fragment_map = np.full(h * w, -1, np.int32)
        fragment_map[pixel] = fragment
        masks = np.zeros((len(present), h, w), bool)
        for j in range(len(present)):
            masks[j] = fragment_map.reshape(h, w) == j
        frame_instances = self._instances(xyz, point_instance)
        fragments = Fragments(
            mask_index=np.arange(len(present)), centroid=frame_instances.centroid, box_min=frame_instances.box_min,
            box_max=frame_instances.box_max, num_points=frame_instances.num_points, score=frame_instances.scores,
        )
        return StepResult(
            points=FramePoints(xyz=xyz, rgb=rgb, pixel=pixel, fragment=fragment),
            masks=MaskResult(masks, np.full(len(present), SCORE, np.float32), fragment_map.reshape(h, w)),
            fragments=fragments, frame_instances=frame_instances, point_instance=point_instance,
            created=created, updated=[i for i in present if i not in created],
            timings={"fake": time.perf_counter() - started},
        )

    def _instances(self, xyz: np.ndarray, ids: np.ndarray) -> Instances:
        present = np.unique(ids[ids > 0])
        boxes = np.array([points_box(xyz[ids == i]) for i in present], np.float32).reshape(-1, 6)
        box_min, box_max = boxes[:, :3], boxes[:, 3:]
        centroid = np.array([xyz[ids == i].mean(0) for i in present], np.float32).reshape(-1, 3)
        last = max(self.last_seen.values(), default=0.0)
        return Instances(
            ids=present.astype(np.int64), scores=np.full(len(present), SCORE, np.float32), box_min=box_min,
            box_max=box_max, num_points=np.array([(ids == i).sum() for i in present], np.int64), centroid=centroid,
            first_seen=np.array([self.first_seen.get(int(i), 0.0) for i in present]),
            last_seen=np.array([self.last_seen.get(int(i), 0.0) for i in present]),
            tier=np.array([0 if self.last_seen.get(int(i)) == last else 1 for i in present], np.int8),
        )

    def instances(self) -> Instances:
        return self._instances(self.xyz, self.ids)

    def map(self) -> SceneMap:
        return SceneMap(self.xyz, self.rgb, self.ids, np.where(self.ids > 0, SCORE, 0).astype(np.float32))

    def save(self, path) -> None:
        seen = np.array(sorted(self.first_seen))
        with open(path, "wb") as f:
            np.savez(
                f, format=np.array(FORMAT), xyz=self.xyz, rgb=self.rgb, ids=self.ids,
                colors=np.array(sorted(self.color_ids.items()), np.int64).reshape(-1, 2),
                seen=np.array([[i, self.first_seen[i], self.last_seen[i]] for i in seen]).reshape(-1, 3),
            )

    def load(self, path) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path}: not a map file ({exc})") from exc
        if str(arrays.get("format", "")) != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} file")
        try:  # parse everything before touching the live state
            xyz, rgb, ids = arrays["xyz"], arrays["rgb"], arrays["ids"]
            color_ids = {int(k): int(v) for k, v in arrays["colors"]}
            first_seen = {int(i): float(a) for i, a, _ in arrays["seen"]}
            last_seen = {int(i): float(b) for i, _, b in arrays["seen"]}
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{path}: incomplete map file ({exc})") from exc
        self.xyz, self.rgb, self.ids = xyz, rgb, ids
        self.color_ids, self.first_seen, self.last_seen = color_ids, first_seen, last_seen

if __name__ == "__main__":  # --managed: the managed node
    if "--managed" in sys.argv:
        sys.argv.remove("--managed")
        from samosaic3d_ros.managed_node import main
    else:
        from samosaic3d_ros.node import main

    sys.exit(main(segmenter_factory=FakeSegmenter))
