"""Parameters: generated from the config dataclasses; the YAML and the reference equal them; bad values are named."""

import dataclasses
import re

import pytest
import yaml

from samosaic3d_core.config import flatten, leaf_fields
from samosaic3d_core.pipeline import SegmenterConfig
from samosaic3d_ros.params import NodeParams, params_from_flat, params_from_yaml, parameter_fields
from samosaic3d_ros.params_file import default_parameters_yaml, parameters_reference
from test.ros.conftest import REPO


def test_parameters_are_the_node_fields_and_the_segmenter_tree():
    names = [spec.name for spec in parameter_fields()]
    assert len(names) == len(set(names))
    assert {"color_topic", "map_frame", "pipeline", "masks.source", "masks.fastsam.weights", "lift.voxel_size",
            "memory.short_term_size", "memory.map_voxel_size", "frame_model.group_threshold"} <= set(names)
    segmenter = [f.name for f in leaf_fields(SegmenterConfig)]
    assert names[-len(segmenter):] == segmenter  # every pipeline setting, under its dotted name
    assert "segmenter" not in " ".join(names)


def test_shipped_yaml_is_the_generated_one_and_reads_back_as_the_defaults():
    text = (REPO / "config" / "samosaic3d.yaml").read_text()
    assert text == default_parameters_yaml(), "regenerate: samosaic3d params > config/samosaic3d.yaml"
    values = flatten(yaml.safe_load(text)["samosaic3d_node"]["ros__parameters"])
    defaults = {spec.name: spec.default for spec in parameter_fields() if spec.default is not None}
    assert set(values) == set(defaults)  # every key exists; unset ones (None) are listed commented out
    for name, value in values.items():  # ROS parameters are typed: 1 is not 1.0
        expected = list(defaults[name]) if isinstance(defaults[name], tuple) else defaults[name]
        assert value == expected and type(value) is type(expected), name
    assert params_from_yaml(REPO / "config" / "samosaic3d.yaml") == NodeParams()


def test_parameter_reference_is_the_generated_one():
    text = (REPO / "docs" / "parameters.md").read_text()
    assert text == parameters_reference(), "regenerate: samosaic3d params --describe > docs/parameters.md"


def test_jetson_preset_overrides_known_parameters_with_the_right_types():
    config = yaml.safe_load((REPO / "config" / "jetson.yaml").read_text())
    values = flatten(config["samosaic3d_node"]["ros__parameters"])
    defaults = {spec.name: spec.default for spec in parameter_fields()}
    assert set(values) <= set(defaults)
    assert all(type(v) is type(defaults[k]) for k, v in values.items())
    params = params_from_yaml(REPO / "config" / "jetson.yaml")
    seg = params.segmenter
    assert seg.masks.source == "fastsam" and seg.masks.fastsam.weights.endswith(".engine") and seg.masks.fastsam.half
    # the coarser grid applies to the frame points and to the map alike
    assert seg.lift.voxel_size == seg.memory.map_voxel_size == 0.03
    assert seg.memory.association_voxel_size >= 2 * seg.memory.map_voxel_size


def test_every_parameter_has_a_description():
    for spec in parameter_fields():
        assert len(spec.doc) > 10, spec.name


@pytest.mark.parametrize("change,message", [
    ({"device": "tpu"}, "parameters: device='tpu'; expected auto, cpu, cuda, cuda:N or mps"),
    ({"pose_source": "gps"}, "'pose_source' is 'gps'; expected one of 'tf', 'pose_topic', 'odom_topic'"),
    ({"masks.source": "sam9"}, "'masks.source' is 'sam9'; expected one of"),
    ({"sync_slop": 0.0}, "parameter sync_slop=0.0 must be > 0"),
    ({"tf_timeout": -1.0}, "parameter tf_timeout=-1.0 must be >= 0"),
    ({"lift.min_depth": 7.0}, "lift.min_depth=7.0 must be >= 0 and below lift.max_depth=6.0"),
    ({"sync_queue_size": 0}, "parameter sync_queue_size=0 must be >= 1"),
    ({"memory.short_term_size": 0}, "short_term_size must be >= 1"),
    ({"lift.voxel_sise": 0.05}, "unknown key 'lift.voxel_sise'; did you mean 'lift.voxel_size'?"),
    ({"short_memory_size": 5}, "unknown key 'short_memory_size'"),  # a parameter of earlier versions
])
def test_bad_values_are_named(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        params_from_flat(change)


def test_dotted_parameters_reach_the_segmenter_config():
    params = params_from_flat({"masks.source": "fastsam", "masks.fastsam.weights": "/m/f.engine",
                               "masks.fastsam.imgsz": 480, "masks.fastsam.half": True, "memory.short_term_size": 9,
                               "frame_model.group_threshold": 0.4, "input_qos": "reliable"})
    seg = params.segmenter
    assert (seg.masks.source, seg.masks.fastsam.weights, seg.masks.fastsam.imgsz, seg.masks.fastsam.half) == (
        "fastsam", "/m/f.engine", 480, True)
    assert seg.memory.short_term_size == 9 and seg.frame_model.group_threshold == 0.4
    assert params.input_qos == "reliable" and seg.lift == SegmenterConfig().lift


def test_map_dir_expands_user(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert NodeParams().map_path == tmp_path / ".ros" / "samosaic3d" / "maps"


def test_params_from_yaml_reads_nested_and_dotted_keys_and_overrides(tmp_path):
    params = params_from_yaml(REPO / "config" / "samosaic3d.yaml", input_qos="reliable")
    assert params == dataclasses.replace(NodeParams(), input_qos="reliable")
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text("samosaic3d_node:\n  ros__parameters:\n    lift.voxel_size: 0.04\n    memory:\n      vote_cap: 3\n")
    seg = params_from_yaml(mixed).segmenter
    assert (seg.lift.voxel_size, seg.memory.vote_cap) == (0.04, 3)
    bad = tmp_path / "bad.yaml"
    bad.write_text("samosaic3d_node:\n  ros__parameters:\n    lift:\n      voxel_sise: 0.05\n")
    with pytest.raises(ValueError, match=r"parameter file '.*bad.yaml': unknown key 'lift.voxel_sise'; did you mean"):
        params_from_yaml(bad)
