"""Parameters: the YAML equals the built-in defaults, every parameter is described, bad values are named."""

import dataclasses

import pytest
import yaml

from samosaic3d_ros.params import NodeParams, segmenter_config_kwargs
from test.ros.conftest import REPO


def test_yaml_lists_every_parameter_with_its_default():
    config = yaml.safe_load((REPO / "config" / "samosaic3d.yaml").read_text())
    values = config["samosaic3d_node"]["ros__parameters"]
    defaults = {f.name: f.default for f in dataclasses.fields(NodeParams)}
    assert values == defaults
    for name, value in values.items():  # ROS parameters are typed: 1 is not 1.0
        assert type(value) is type(defaults[name]), name


def test_jetson_yaml_overrides_only_known_parameters_with_the_right_types():
    config = yaml.safe_load((REPO / "config" / "jetson.yaml").read_text())
    values = config["samosaic3d_node"]["ros__parameters"]
    defaults = {f.name: f.default for f in dataclasses.fields(NodeParams)}
    assert set(values) <= set(defaults)
    assert all(type(v) is type(defaults[k]) for k, v in values.items())
    NodeParams(**values).validate()
    assert values["mask_source"] == "fastsam" and values["mask_weights"].endswith(".engine")


def test_every_parameter_has_a_description():
    for f in dataclasses.fields(NodeParams):
        assert len(f.metadata["description"]) > 10, f.name


@pytest.mark.parametrize("change,message", [
    ({"device": "tpu"}, "parameter device='tpu'; expected one of auto, cpu, cuda"),
    ({"pose_source": "gps"}, "parameter pose_source='gps'; expected one of tf, pose_topic, odom_topic"),
    ({"sync_slop": 0.0}, "parameter sync_slop=0.0 must be > 0"),
    ({"tf_timeout": -1.0}, "parameter tf_timeout=-1.0 must be >= 0"),
    ({"min_depth": 7.0}, "min_depth=7.0 must be below max_depth=6.0"),
    ({"sync_queue_size": 0}, "parameter sync_queue_size=0 must be >= 1"),
])
def test_bad_values_are_named(change, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        dataclasses.replace(NodeParams(), **change).validate()


def test_segmenter_config_from_params():
    kwargs = segmenter_config_kwargs(NodeParams(mask_source="fastsam", mask_weights="/m/FastSAM-s.pt", checkpoint=""))
    assert kwargs["mask_options"] == {"weights": "/m/FastSAM-s.pt"}
    kwargs = segmenter_config_kwargs(NodeParams(mask_source="fastsam", mask_weights="/m/f.engine", mask_image_size=480,
                                                half_precision=True, checkpoint="/m/model.safetensors"))
    assert kwargs == dict(
        pipeline="auto", masks="fastsam", mask_options={"weights": "/m/f.engine", "imgsz": 480, "half": True},
        checkpoint="/m/model.safetensors", merging="auto",
        device="auto", voxel_size=0.02, point_budget=10000, min_depth=0.1, max_depth=6.0, short_term_size=50,
    )


def test_map_dir_expands_user(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert NodeParams().map_path == tmp_path / ".ros" / "samosaic3d" / "maps"


def test_params_from_yaml_reads_the_shipped_config_and_overrides(tmp_path):
    from pathlib import Path

    from samosaic3d_ros.params import params_from_yaml

    config = Path(__file__).resolve().parents[2] / "config" / "samosaic3d.yaml"
    params = params_from_yaml(config, input_qos="reliable")
    assert params == NodeParams(input_qos="reliable")
    bad = tmp_path / "bad.yaml"
    bad.write_text("samosaic3d_node:\n  ros__parameters:\n    voxel_sise: 0.05\n")
    with pytest.raises(ValueError, match="unknown parameter.*voxel_sise"):
        params_from_yaml(bad)
