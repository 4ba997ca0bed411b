"""OnlineSegmenter end to end on hand-made frames: flat rectangles facing the camera at known depth."""

import dataclasses
import json
import re

import numpy as np
import pytest

from samosaic3d_core.baseline import AssociationConfig, FragmentsAsInstances, DescriptorConfig, HeuristicAssociator
from samosaic3d_core.lift import LiftConfig
from samosaic3d_core.memory import MemoryConfig
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig
from samosaic3d_core.types import CameraIntrinsics, Frame, MaskResult

K = CameraIntrinsics(50.0, 50.0, 32.0, 24.0, 64, 48)
# (instance id, x0, x1, y0, y1, z, rgb): world rectangles in planes z = const, facing the camera
RED = (1, -0.9, -0.1, -0.5, 0.5, 2.0, (200, 30, 30))
BLUE = (2, 0.1, 0.9, -0.5, 0.5, 2.0, (30, 30, 200))
# camera positions of a short, slightly shaky sequence (metres)
SHAKY = [(0.0, 0.0, 0.0), (0.01, 0.005, 0.0), (0.02, 0.01, 0.02), (-0.01, 0.015, -0.01)]


def render(rects, cam_xyz=(0.0, 0.0, 0.0), index=0) -> Frame:
    """Frame of a camera at ``cam_xyz`` looking along +z (identity rotation) at ``rects``."""
    tx, ty, tz = cam_xyz
    v, u = np.mgrid[0 : K.height, 0 : K.width].astype(np.float64)
    dx, dy = (u - K.cx) / K.fx, (v - K.cy) / K.fy
    depth = np.zeros((K.height, K.width), np.float32)
    gt = np.zeros((K.height, K.width), np.int32)
    rgb = np.zeros((K.height, K.width, 3), np.uint8)
    for inst_id, x0, x1, y0, y1, z, colour in sorted(rects, key=lambda r: -r[5]):  # far to near
        d = z - tz
        x, y = tx + dx * d, ty + dy * d
        hit = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        depth[hit], gt[hit], rgb[hit] = d, inst_id, colour
    pose = np.eye(4)
    pose[:3, 3] = cam_xyz
    return Frame(rgb, depth, pose, K, timestamp=0.1 * index, index=index, instance_gt=gt)


def oracle_masks(frame: Frame) -> MaskResult:
    """One mask per ground-truth id (ascending), score 0.9."""
    ids = np.unique(frame.instance_gt)
    ids = ids[ids > 0]
    masks = np.stack([frame.instance_gt == i for i in ids]) if len(ids) else np.zeros((0, *frame.shape), bool)
    fragment_map = np.full(frame.shape, -1, np.int32)
    for j, i in enumerate(ids):
        fragment_map[frame.instance_gt == i] = j
    return MaskResult(masks, np.full(len(ids), 0.9, np.float32), fragment_map)


def segmenter(**overrides) -> OnlineSegmenter:
    """Oracle masks, the baseline's parts; ``overrides`` by dotted name (``memory.map_voxel_size=...``)."""
    config = SegmenterConfig.from_flat({name.replace("__", "."): value for name, value in overrides.items()})
    return OnlineSegmenter(oracle_masks, FragmentsAsInstances(config.descriptor),
                           HeuristicAssociator(config.association), config)


def run(seg, rects, cams=SHAKY):
    return [seg.step(render(rects, cam, i)) for i, cam in enumerate(cams)]


def assert_same_state(a: OnlineSegmenter, b: OnlineSegmenter):
    assert a.num_frames == b.num_frames
    ia, ib = a.instances(), b.instances()
    for name in ("ids", "scores", "box_min", "box_max", "num_points", "feats", "centroid", "first_seen", "last_seen", "tier"):
        np.testing.assert_array_equal(getattr(ia, name), getattr(ib, name), err_msg=name)
    ma, mb = a.map(), b.map()
    for name in ("xyz", "rgb", "instance_ids", "scores"):
        np.testing.assert_array_equal(getattr(ma, name), getattr(mb, name), err_msg=name)
    assert a.memory.short_term_ids() == b.memory.short_term_ids()


def test_two_objects_keep_two_ids_and_their_points():
    seg = segmenter(memory__confidence="model")
    results = run(seg, [RED, BLUE])
    assert results[0].created == [1, 2] and results[0].updated == []
    for r in results[1:]:
        assert r.created == [] and r.updated == [1, 2]
        assert r.frame_instances.ids.tolist() == [1, 2]
    inst = seg.instances()
    assert inst.ids.tolist() == [1, 2]
    assert inst.tier.tolist() == [0, 0]
    np.testing.assert_allclose(inst.first_seen, [0.0, 0.0])
    np.testing.assert_allclose(inst.last_seen, [0.3, 0.3])
    np.testing.assert_allclose(inst.scores, [0.9, 0.9], rtol=1e-6)
    scene = seg.map()
    assert set(np.unique(scene.instance_ids)) == {1, 2}  # no unlabelled points: the background has no depth
    for inst_id, x0, x1, y0, y1, z, _ in (RED, BLUE):
        xyz = scene.xyz[scene.instance_ids == inst_id]
        assert len(xyz) == inst.num_points[inst_id - 1] > 0
        assert np.all((xyz[:, 0] >= x0) & (xyz[:, 0] <= x1) & (xyz[:, 1] >= y0) & (xyz[:, 1] <= y1))
        np.testing.assert_allclose(xyz[:, 2], z, atol=1e-5)


def test_repeated_frame_adds_no_points():
    seg = segmenter()
    frame = render([RED, BLUE])
    first = seg.step(frame)
    assert len(seg.map()) == len(first.points.xyz) == 2 * 20 * 25  # pixels 4 cm apart: one voxel each
    again = seg.step(frame)
    assert again.updated == [1, 2] and len(seg.map()) == 2 * 20 * 25


def test_point_instance_and_timings():
    seg = segmenter()
    result = run(seg, [RED, BLUE])[-1]
    gt = render([RED, BLUE], SHAKY[-1], 3).instance_gt.reshape(-1)[result.points.pixel]
    np.testing.assert_array_equal(result.point_instance, gt)  # map ids equal gt ids here
    assert set(result.timings) == {"refine", "masks", "lift", "frame_model", "associate", "memory", "total"}
    stages = [t for name, t in result.timings.items() if name != "total"]
    assert all(t > 0 for t in stages) and result.timings["total"] == pytest.approx(sum(stages))


def test_separate_objects_seen_apart_do_not_merge():
    # the blue rectangle appears only later, beside the red one: it must get a new id
    seg = segmenter()
    seg.step(render([RED], SHAKY[0], 0))
    r = seg.step(render([RED, BLUE], SHAKY[1], 1))
    assert r.created == [2] and r.updated == [1]


def test_reset_restarts_ids():
    seg = segmenter()
    run(seg, [RED, BLUE])
    seg.reset()
    assert seg.num_frames == 0 and len(seg.instances()) == 0 and len(seg.map()) == 0
    assert seg.step(render([BLUE], index=0)).created == [1]


def test_config_is_composed_of_the_parts_configs():
    config = SegmenterConfig()
    assert (config.lift, config.memory, config.descriptor, config.association) == (
        LiftConfig(), MemoryConfig(), DescriptorConfig(), AssociationConfig())
    from samosaic3d_core.model.frame_model import F2IFrameConfig
    from samosaic3d_core.train.temporal import TemporalConfig

    assert config.frame_model == F2IFrameConfig()
    # the merger is trained on the run-time frame model, descriptor and memory: the temporal stage reuses their configs
    temporal = TemporalConfig()
    assert (temporal.frame_model, temporal.descriptor, temporal.memory, temporal.learned_association) == (
        config.frame_model, config.descriptor, config.memory, config.learned_association)
    assert SegmenterConfig.from_dict(config.to_dict()) == config


def test_config_from_dict_and_dotted_names():
    config = SegmenterConfig.from_dict({"lift": {"voxel_size": 0.05}, "masks": {"source": "sim", "sim": {"seed": 3}}})
    assert (config.lift.voxel_size, config.masks.source, config.masks.sim.seed) == (0.05, "sim", 3)
    assert config.lift.point_budget == LiftConfig().point_budget  # keys left out keep their defaults
    assert SegmenterConfig.from_flat({"lift.voxel_size": 0.05, "masks.source": "sim", "masks.sim.seed": 3}) == config
    changed = SegmenterConfig.from_flat({"memory.short_term_size": 7}, base=config)
    assert (changed.memory.short_term_size, changed.lift.voxel_size) == (7, 0.05)
    assert SegmenterConfig.from_dict({"lift": {"voxel_size": 1}}).lift.voxel_size == 1.0  # ints read as floats
    assert SegmenterConfig.from_dict({"masks": {"sim": {"score_range": [0.5, 0.9]}}}).masks.sim.score_range == (0.5, 0.9)


def test_a_section_given_as_a_dict_names_a_call_that_exists():
    from samosaic3d_core.config import from_flat
    from samosaic3d_core.memory import MemoryConfig

    with pytest.raises(TypeError, match=r"e\.g\. SegmenterConfig\.from_flat\(\{'memory\.<field>'"):
        SegmenterConfig(memory={})
    with pytest.raises(TypeError, match=r"e\.g\. samosaic3d_core\.config\.from_flat\(MemoryConfig, \{'consolidation"):
        MemoryConfig(consolidation={"every": 0})
    assert from_flat(MemoryConfig, {"consolidation.every": 0}).consolidation.every == 0  # the call it names works


@pytest.mark.parametrize("values,message", [
    ({"lift": {"voxel_sise": 0.1}}, "my.yaml: unknown key 'lift.voxel_sise'; did you mean 'lift.voxel_size'?"),
    ({"memroy": {}}, "unknown key 'memroy'; did you mean 'memory'?"),
    ({"voxel_size": 0.1}, "unknown key 'voxel_size'"),  # the flat layout of earlier versions
    ({"lift": {"voxel_size": "big"}}, "'lift.voxel_size' must be float, got 'big'"),
    ({"lift": 3}, "'lift' must be a mapping"),
    ({"pipeline": "magic"}, "'pipeline' is 'magic'; expected one of 'auto', 'baseline', 'learned'"),
    ({"memory": {"short_term_size": 0}}, "memory: short_term_size must be >= 1"),
])
def test_config_errors_name_the_key(values, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SegmenterConfig.from_dict(values, "my.yaml")


def test_a_renamed_field_breaks_instead_of_falling_back():
    """Every leaf of the tree reaches the part it configures: a setting changed by name changes that part."""
    from samosaic3d_core.config import leaf_fields

    names = {f.name for f in leaf_fields(SegmenterConfig)}
    for name in ("lift.voxel_size", "memory.short_term_size", "memory.map_voxel_size", "association.merge_threshold",
                 "learned_association.i2s_merge_threshold", "frame_model.group_threshold", "frame_model.score_threshold",
                 "descriptor.color_bins", "masks.fastsam.weights", "masks.sim.seed"):
        assert name in names, name
    seg = segmenter(lift__voxel_size=0.05, memory__short_term_size=7, association__merge_threshold=0.6)
    assert seg.lift_config.voxel_size == 0.05 and seg.memory.config.short_term_size == 7
    assert seg.associator.config.merge_threshold == 0.6


@pytest.fixture
def no_shipped_weights(monkeypatch, tmp_path):
    import samosaic3d_core.model.checkpoint as checkpoint

    monkeypatch.setattr(checkpoint, "SHIPPED_CHECKPOINT", tmp_path / "none.safetensors")


def test_auto_pipeline_picks_learned_only_with_weights(no_shipped_weights, tmp_path, monkeypatch):
    import samosaic3d_core.model.checkpoint as checkpoint
    from samosaic3d_core.pipeline import resolve_pipeline

    assert resolve_pipeline(SegmenterConfig()).pipeline == "baseline"
    given = resolve_pipeline(SegmenterConfig(checkpoint="w.safetensors"))
    assert (given.pipeline, given.checkpoint) == ("learned", "w.safetensors")
    shipped = tmp_path / "shipped.safetensors"
    shipped.write_bytes(b"x")
    monkeypatch.setattr(checkpoint, "SHIPPED_CHECKPOINT", shipped)
    for pipeline in ("auto", "learned"):
        chosen = resolve_pipeline(SegmenterConfig(pipeline=pipeline))
        assert (chosen.pipeline, chosen.checkpoint) == ("learned", str(shipped))
    assert resolve_pipeline(SegmenterConfig(pipeline="baseline")).pipeline == "baseline"  # stays selectable


def test_from_config_errors(no_shipped_weights):
    with pytest.raises(ValueError, match="learned pipeline needs a checkpoint"):
        OnlineSegmenter.from_config(SegmenterConfig(pipeline="learned"))
    with pytest.raises(ValueError, match="unknown pipeline 'magic'"):
        OnlineSegmenter.from_config(dataclasses.replace(SegmenterConfig(), pipeline="magic"))
    with pytest.raises(ValueError, match="unknown merging 'best'"):
        OnlineSegmenter.from_config(dataclasses.replace(SegmenterConfig(), merging="best"))
    with pytest.raises(ValueError, match="merging='learned' needs pipeline='learned'"):
        OnlineSegmenter.from_config(SegmenterConfig(merging="learned"))


def test_learned_pipeline_picks_the_merging_of_the_checkpoint(tmp_path):
    """F2I-only checkpoint: colour features + heuristic merging; F2I + I2S: [query, colour] features
    + I2S; 'untrained': the merger's initial weights; 'learned' without an I2S part: a clear error."""
    import torch

    from samosaic3d_core.baseline import ColorFeatures
    from samosaic3d_core.i2s_association import LearnedAssociator
    from samosaic3d_core.model.checkpoint import save_f2i, save_samosaic3d
    from samosaic3d_core.model.f2i import F2IModel
    from samosaic3d_core.model.frame_model import F2IFrameModel
    from samosaic3d_core.model.i2s import I2SConfig, I2SMerger
    from test.core.test_model_f2i import TINY

    torch.manual_seed(0)
    f2i, i2s_config = F2IModel.from_config(TINY), I2SConfig(feat_dim=16, color_dim=27)
    trained = I2SMerger(i2s_config)
    with torch.no_grad():
        trained.bias.fill_(1.25)
    only = save_f2i(tmp_path / "f2i.safetensors", f2i, TINY)
    both = save_samosaic3d(tmp_path / "full.safetensors", f2i, TINY, trained, i2s_config)

    def build(path, merging="auto"):
        return OnlineSegmenter.from_config(SegmenterConfig.from_flat(
            {"pipeline": "learned", "checkpoint": str(path), "merging": merging, "masks.source": "sim", "device": "cpu"}))

    seg = build(only)
    assert isinstance(seg.frame_model, ColorFeatures) and isinstance(seg.associator, HeuristicAssociator)
    seg = build(both)
    assert isinstance(seg.frame_model, ColorFeatures) and seg.frame_model.append
    assert isinstance(seg.frame_model.frame_model, F2IFrameModel) and isinstance(seg.associator, LearnedAssociator)
    assert float(seg.associator.merger.bias.detach()) == 1.25
    assert isinstance(build(both, "heuristic").associator, HeuristicAssociator)
    for path in (only, both):
        untrained = build(path, "untrained").associator
        assert isinstance(untrained, LearnedAssociator) and float(untrained.merger.bias.detach()) == -5.0
        assert untrained.merger.config.color_dim == 27
    with pytest.raises(ValueError, match=r"f2i\.safetensors: holds F2I weights only; merging='learned' needs"):
        build(only, "learned")
    # a few frames through the full model: the map's features are the 16-d F2I queries + 27-d colour
    seg = build(both)
    for i, cam in enumerate(SHAKY):
        frame_instances = seg.step(render([RED, BLUE], cam, i)).frame_instances
        k = len(frame_instances)  # with the frame model's linkage of each two, for cannot_link
        assert frame_instances.linkage.shape == (k, k) and np.all(np.diag(frame_instances.linkage) == 1)
    assert seg.memory.feat_dim == 16 + 27
    for source, cannot_link in (("sim", 0.05), ("oversegment", 0.0)):
        apart = OnlineSegmenter.from_config(SegmenterConfig.from_flat(
            {"pipeline": "learned", "checkpoint": str(both), "masks.source": source, "device": "cpu",
             "learned_association.cannot_link": 0.05}))
        assert apart.associator.config.cannot_link == cannot_link
        # the frame model tells the angles where cannot_link reads them
        assert apart.frame_model.frame_model.concavity == (cannot_link > 0)
        frame_instances = apart.step(render([RED, BLUE], SHAKY[0], 0)).frame_instances
        k = len(frame_instances)
        assert (frame_instances.concave is not None and frame_instances.concave.shape == (k, k)) == (cannot_link > 0)
    with pytest.raises(ValueError, match="the merger reads 27-wide colour descriptors, color_bins=4 gives 15"):
        OnlineSegmenter.from_config(SegmenterConfig.from_flat(
            {"pipeline": "learned", "checkpoint": str(both), "masks.source": "sim", "device": "cpu", "descriptor.color_bins": 4}))


def test_save_load_round_trip(tmp_path):
    seg = segmenter()
    run(seg, [RED, BLUE])
    seg.save(tmp_path / "state.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["state.npz"]  # atomic: no temp file left
    back = segmenter()
    back.load(tmp_path / "state.npz")
    assert_same_state(seg, back)
    # the restored state keeps streaming exactly like the original
    frame = render([RED, BLUE], (0.005, 0.0, 0.0), 4)
    ra, rb = seg.step(frame), back.step(frame)
    assert ra.updated == rb.updated == [1, 2]
    assert_same_state(seg, back)


def _write_state(path, meta=None, **arrays):
    if meta is not None:
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)


def test_load_rejects_bad_files_and_keeps_live_state(tmp_path):
    seg = segmenter()
    run(seg, [RED, BLUE])
    seg.save(tmp_path / "good.npz")
    reference = segmenter()
    reference.load(tmp_path / "good.npz")
    good = dict(np.load(tmp_path / "good.npz"))
    meta = json.loads(good["meta"].tobytes())

    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 definitely not a zip")
    _write_state(tmp_path / "foreign.npz", None, xyz=np.zeros((3, 3)))
    _write_state(tmp_path / "other_format.npz", {**meta, "format": "something-else"})
    _write_state(tmp_path / "future.npz", {**meta, "version": 99}, **{k: v for k, v in good.items() if k != "meta"})
    other_grid = {**meta["config"], "memory": {**meta["config"]["memory"], "map_voxel_size": 0.05}}
    _write_state(tmp_path / "other_grid.npz", {**meta, "config": other_grid})
    # version-1 files of the flat config layout: their grid is still checked
    _write_state(tmp_path / "flat_layout.npz", {**meta, "config": {"pipeline": "baseline", "map_voxel_size": 0.05}})
    _write_state(tmp_path / "truncated.npz", meta, **{k: v for k, v in good.items() if k not in ("meta", "voxel_owner")})
    bad_owner = {k: v for k, v in good.items() if k != "meta"}
    bad_owner["voxel_owner"] = bad_owner["voxel_owner"] + 7
    _write_state(tmp_path / "bad_owner.npz", meta, **bad_owner)
    cases = {
        "missing.npz": "cannot read",
        "corrupt.npz": "cannot read",
        "foreign.npz": "not a samosaic3d segmenter state",
        "other_format.npz": "not a samosaic3d segmenter state",
        "future.npz": "version 99 is not supported",
        "other_grid.npz": "saved with memory.map_voxel_size=0.05",
        "flat_layout.npz": "saved with memory.map_voxel_size=0.05",
        "truncated.npz": "lacks array 'voxel_owner'",
        "bad_owner.npz": "voxel owners",
    }
    for name, message in cases.items():
        with pytest.raises(ValueError, match=message) as err:
            seg.load(tmp_path / name)
        assert name in str(err.value)
        assert_same_state(seg, reference)
    arrays = {k: v for k, v in good.items() if k != "meta"}
    _write_state(tmp_path / "flat_same_grid.npz", {**meta, "config": {"pipeline": "auto", "map_voxel_size": 0.02}}, **arrays)
    fresh = segmenter()
    fresh.load(tmp_path / "flat_same_grid.npz")  # a map saved before the nested layout still loads
    assert_same_state(fresh, reference)


# ---------------------------------------------------------------- samosaic3d run (with stand-in reader/masks/eval)
class FakeReader:
    """Five frames of the two rectangles; frame 3 of scene "lost" has an invalid pose."""

    def __init__(self, scene_dir):
        self.name = scene_dir.name

    def __len__(self):
        return 5

    def __getitem__(self, i):
        frame = render([RED, BLUE], SHAKY[i % len(SHAKY)], i)
        if self.name == "lost" and i == 3:
            frame.pose[:3, 3] = -np.inf
        return frame


def fake_modules(monkeypatch, evaluated):
    import types as pytypes

    scannet = pytypes.ModuleType("samosaic3d_core.data.scannet")
    scannet.list_scenes = lambda root: [root / "lost", root / "room"]
    scannet.SceneReader = FakeReader
    masks = pytypes.ModuleType("samosaic3d_core.masks")
    masks.build_mask_source = lambda config: oracle_masks
    evaluation = pytypes.ModuleType("samosaic3d_core.eval")
    evaluation.evaluate_directory = lambda data_root, pred_root, **hooks: evaluated.append(pred_root) or 1.0
    evaluation.format_ap_line = lambda result: "AP=1.0000 AP50=1.0000 AP25=1.0000"
    evaluation.ap_entries = lambda result: {"AP": result, "AP50": result, "AP25": result}
    for module in (scannet, masks, evaluation):
        monkeypatch.setitem(__import__("sys").modules, module.__name__, module)


def test_run_command_writes_maps_and_prints_ap_last(tmp_path, monkeypatch, capsys):
    from samosaic3d_core.cli.main import main
    from samosaic3d_core.io.scene_map import read_scene_map

    evaluated = []
    fake_modules(monkeypatch, evaluated)
    argv = ["run", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--masks", "oracle", "--stride", "1"]
    assert main(argv + ["--frames-per-scene", "4"]) == 0
    out, err = capsys.readouterr()
    assert out.strip().splitlines()[-1] == "AP=1.0000 AP50=1.0000 AP25=1.0000"
    assert evaluated == [tmp_path / "out"]
    assert "lost: 3 frames (1 skipped)" in err and "room: 4 frames, " in err and "FPS" in err
    assert "skipping lost frame 3" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "lost.npz", "lost.ply", "metrics.json", "room.npz", "room.ply"]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["AP"] == 1.0 and sorted(metrics["scenes"]) == ["lost", "room"]
    assert metrics["scenes"]["lost"]["frames"] == 3 and metrics["scenes"]["lost"]["skipped"] == 1
    scene_map = read_scene_map(tmp_path / "out" / "room.npz")
    assert set(np.unique(scene_map.instance_ids)) == {1, 2}
    ply = (tmp_path / "out" / "room.ply").read_bytes()
    assert f"element vertex {len(scene_map)}".encode() in ply

    assert main(argv + ["--scenes", "1", "--stride", "2"]) == 0  # frames 0, 2, 4 of "lost"
    assert "lost: 3 frames, " in capsys.readouterr().err


def test_select_frames_without_indexing():
    from samosaic3d_core.cli.run import select_frames

    assert list(select_frames(iter(range(10)), 3, 2)) == [0, 3]
    assert list(select_frames(list(range(10)), 4, None)) == [0, 4, 8]
    with pytest.raises(ValueError, match="stride"):
        list(select_frames([], 0, None))


def test_the_learned_pipeline_on_the_cpu_sets_torch_threads_once():
    import torch

    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        OnlineSegmenter.from_config(SegmenterConfig.from_flat({"pipeline": "learned", "device": "cpu", "cpu_threads": 0}))
        assert torch.get_num_threads() == 2  # 0: left alone
        OnlineSegmenter.from_config(SegmenterConfig.from_flat({"pipeline": "learned", "device": "cpu"}))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)
    with pytest.raises(ValueError, match="cpu_threads must be >= 0"):
        SegmenterConfig.from_flat({"cpu_threads": -1})


def test_oversegment_pieces_are_grouped_at_their_own_threshold(tmp_path):
    from samosaic3d_core.model.checkpoint import save_f2i
    from samosaic3d_core.model.f2i import F2IModel
    from samosaic3d_core.model.frame_model import F2IFrameConfig, frame_config_for_masks
    from test.core.test_model_f2i import TINY

    config = F2IFrameConfig(group_threshold=0.7, oversegment_group_threshold=0.6)
    assert frame_config_for_masks(config, "oversegment").group_threshold == 0.6
    assert frame_config_for_masks(config, "sim") is config and frame_config_for_masks(config, "fastsam") is config
    same = dataclasses.replace(config, oversegment_group_threshold=None)
    assert frame_config_for_masks(same, "oversegment").group_threshold == 0.7
    with pytest.raises(ValueError, match="oversegment_group_threshold must be in"):
        F2IFrameConfig(oversegment_group_threshold=1.5)

    path = save_f2i(tmp_path / "f2i.safetensors", F2IModel.from_config(TINY), TINY)

    def threshold(source, **flat):
        seg = OnlineSegmenter.from_config(SegmenterConfig.from_flat(
            {"pipeline": "learned", "checkpoint": str(path), "masks.source": source, "device": "cpu", **flat}))
        return seg.frame_model.frame_model.config.group_threshold

    assert threshold("oversegment") == F2IFrameConfig().oversegment_group_threshold
    assert threshold("sim") == F2IFrameConfig().group_threshold
    assert threshold("oversegment", **{"frame_model.oversegment_group_threshold": None,
                                       "frame_model.group_threshold": 0.8}) == 0.8


def test_oversegment_pieces_are_filled_their_own_way(tmp_path):
    from samosaic3d_core.model.checkpoint import save_f2i
    from samosaic3d_core.model.f2i import F2IModel
    from samosaic3d_core.model.frame_model import F2IFrameConfig, frame_config_for_masks
    from test.core.test_model_f2i import TINY

    config = F2IFrameConfig(group_threshold=0.7)
    assert (config.fill_by, config.oversegment_fill_by) == ("nearest", "box")
    assert frame_config_for_masks(config, "oversegment").fill_by == "box"
    assert frame_config_for_masks(config, "sim").fill_by == "nearest"
    assert frame_config_for_masks(dataclasses.replace(config, oversegment_fill_by=None), "oversegment").fill_by == "nearest"
    for wrong in ("closest", ""):
        with pytest.raises(ValueError, match="oversegment_fill_by must be one of"):
            F2IFrameConfig(oversegment_fill_by=wrong)
    with pytest.raises(ValueError, match="fill_by must be one of"):
        F2IFrameConfig(fill_by=None)

    path = save_f2i(tmp_path / "f2i.safetensors", F2IModel.from_config(TINY), TINY)

    def fill_by(source, **flat):
        seg = OnlineSegmenter.from_config(SegmenterConfig.from_flat(
            {"pipeline": "learned", "checkpoint": str(path), "masks.source": source, "device": "cpu", **flat}))
        return seg.frame_model.frame_model.config.fill_by

    assert fill_by("oversegment") == "box" and fill_by("sim") == "nearest" and fill_by("oracle") == "nearest"
    assert fill_by("oversegment", **{"frame_model.oversegment_fill_by": "nearest"}) == "nearest"
