import numpy as np
import pytest

from test.ros.ros_env import require_ros

require_ros()

from sensor_msgs.msg import PointField  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from samosaic3d_ros.cloud_conv import (  # noqa: E402
    POINT_DTYPE, array_to_cloud, cloud_to_array, labelled_points, pack_rgb, unpack_rgb,
)


def test_pack_rgb_bits():
    packed = pack_rgb(np.array([[255, 0, 0], [1, 2, 3]], np.uint8))
    assert packed.dtype == np.float32
    assert packed.view(np.uint32).tolist() == [0xFF0000, 0x010203]


def test_round_trip_fields_and_layout():
    rng = np.random.default_rng(0)
    n = 1000
    xyz = rng.normal(size=(n, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, (n, 3)).astype(np.uint8)
    ids = rng.integers(0, 2**32 - 1, n, dtype=np.uint32)
    score = rng.random(n).astype(np.float32)
    msg = array_to_cloud(labelled_points(xyz, rgb, ids, score), Header(frame_id="map"))
    assert [(f.name, f.offset, f.datatype, f.count) for f in msg.fields] == [
        ("x", 0, PointField.FLOAT32, 1), ("y", 4, PointField.FLOAT32, 1), ("z", 8, PointField.FLOAT32, 1),
        ("rgb", 12, PointField.FLOAT32, 1), ("instance_id", 16, PointField.UINT32, 1), ("score", 20, PointField.FLOAT32, 1),
    ]
    assert (msg.height, msg.width, msg.point_step, msg.row_step, msg.is_bigendian) == (1, n, 24, 24 * n, False)
    assert msg.header.frame_id == "map" and len(msg.data) == 24 * n
    back = cloud_to_array(msg)
    np.testing.assert_array_equal(np.stack([back["x"], back["y"], back["z"]], 1), xyz)
    np.testing.assert_array_equal(unpack_rgb(back["rgb"]), rgb)
    np.testing.assert_array_equal(back["instance_id"], ids)
    np.testing.assert_array_equal(back["score"], score)


def test_reads_padded_big_endian_organised_cloud():
    """A foreign cloud: 2x2 points, 16-byte point_step with 4 padding bytes, padded rows, big-endian."""
    dtype = np.dtype({"names": ["x", "y", "z"], "formats": [">f4"] * 3, "offsets": [0, 4, 8], "itemsize": 16})
    pts = np.zeros(4, dtype)
    pts["x"], pts["y"], pts["z"] = [1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]
    rows = pts.view(np.uint8).reshape(2, 32)
    data = np.concatenate([rows, np.zeros((2, 8), np.uint8)], axis=1).tobytes()
    msg = array_to_cloud(np.zeros(0, POINT_DTYPE))  # reuse a message object, then describe the foreign layout
    msg.height, msg.width, msg.point_step, msg.row_step, msg.is_bigendian = 2, 2, 16, 40, True
    msg.fields = [PointField(name=n, offset=o, datatype=PointField.FLOAT32, count=1) for n, o in (("x", 0), ("y", 4), ("z", 8))]
    msg.data = data
    back = cloud_to_array(msg)
    assert back["x"].tolist() == [1, 2, 3, 4] and back["z"].tolist() == [9, 10, 11, 12]


def test_length_mismatch_is_named():
    with pytest.raises(ValueError, match="instance_id has 2 entries, xyz has 3"):
        labelled_points(np.zeros((3, 3)), np.zeros((3, 3), np.uint8), np.zeros(2), np.zeros(3))


def test_empty_cloud():
    msg = array_to_cloud(np.zeros(0, POINT_DTYPE))
    assert msg.width == 0 and len(msg.data) == 0 and len(cloud_to_array(msg)) == 0
