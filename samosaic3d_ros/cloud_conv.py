"""numpy structured arrays <-> ``sensor_msgs/PointCloud2`` (what sensor_msgs_py does, vectorised).

The clouds this node publishes carry one record per point (``POINT_DTYPE``, 24 bytes):
    x, y, z       float32 metres, in the header's frame
    rgb           float32 holding 0x00RRGGBB (the PCL / RViz packing)
    instance_id   uint32, 0 = no instance
    score         float32, the score of the point's instance
"""

from __future__ import annotations

import array
import sys

import numpy as np

from samosaic3d_core.colors import pack_rgb as packed_rgb

POINT_DTYPE = np.dtype(
    [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("rgb", "<f4"), ("instance_id", "<u4"), ("score", "<f4")]
)

# sensor_msgs/PointField datatype constant -> numpy type code
_FIELD_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}
_FIELD_CODES = {np.dtype(code).kind + str(np.dtype(code).itemsize): k for k, code in _FIELD_TYPES.items()}


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 -> (N,) float32 whose bits are 0x00RRGGBB."""
    return packed_rgb(rgb).astype("<u4").view("<f4")


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """(N,) float32 packed 0x00RRGGBB -> (N, 3) uint8."""
    bits = np.ascontiguousarray(packed, "<f4").view("<u4")
    return np.stack([(bits >> 16) & 255, (bits >> 8) & 255, bits & 255], axis=1).astype(np.uint8)


def labelled_points(xyz: np.ndarray, rgb: np.ndarray, instance_id: np.ndarray, score: np.ndarray) -> np.ndarray:
    """(N,) ``POINT_DTYPE`` records from xyz (N, 3) metres, rgb (N, 3) uint8 or (N,) uint32 already
    packed 0x00RRGGBB (``samosaic3d_core.colors.instance_rgb_packed``), instance_id (N,), score (N,)."""
    n = len(xyz)
    for name, value in (("rgb", rgb), ("instance_id", instance_id), ("score", score)):
        if len(value) != n:
            raise ValueError(f"labelled_points: {name} has {len(value)} entries, xyz has {n}")
    points = np.empty(n, POINT_DTYPE)
    words = points.view("<u4").reshape(n, 6)  # every field is 4 bytes: fill columns, not records
    words[:, :3] = np.asarray(xyz, np.float32).view("<u4").reshape(n, 3)
    rgb = np.asarray(rgb)
    words[:, 3] = rgb if rgb.ndim == 1 else packed_rgb(rgb)
    words[:, 4] = instance_id
    words[:, 5] = np.asarray(score, "<f4").view("<u4")
    return points


def array_to_cloud(points: np.ndarray, header=None):
    """Unorganised (height 1) ``PointCloud2`` holding the records of structured array ``points``."""
    from sensor_msgs.msg import PointCloud2, PointField

    points = np.ascontiguousarray(points)
    fields = []
    for name in points.dtype.names:
        field_dtype, offset = points.dtype.fields[name][:2]
        base, count = (field_dtype.base, int(np.prod(field_dtype.shape))) if field_dtype.shape else (field_dtype, 1)
        code = _FIELD_CODES.get(base.kind + str(base.itemsize))
        if code is None:
            raise ValueError(f"array_to_cloud: field '{name}' has type {base}, not a PointField type")
        if base.byteorder == ">" or (base.byteorder == "=" and sys.byteorder == "big"):
            raise ValueError(f"array_to_cloud: field '{name}' is big-endian; convert to little-endian first")
        fields.append(PointField(name=name, offset=int(offset), datatype=code, count=count))
    msg = PointCloud2()
    if header is not None:
        msg.header = header
    msg.height, msg.width = 1, int(len(points))
    msg.fields = fields
    msg.is_bigendian = False
    msg.point_step = int(points.dtype.itemsize)
    msg.row_step = msg.point_step * msg.width
    msg.is_dense = True
    data = array.array("B")
    data.frombytes(points.view(np.uint8).reshape(-1))
    msg.data = data
    return msg


def cloud_dtype(msg) -> np.dtype:
    """The structured dtype (with offsets and itemsize = point_step) of a ``PointCloud2``'s records."""
    order = ">" if msg.is_bigendian else "<"
    names, formats, offsets = [], [], []
    for field in msg.fields:
        if field.datatype not in _FIELD_TYPES:
            raise ValueError(f"PointCloud2 field '{field.name}' has unknown datatype {field.datatype}")
        code = order + _FIELD_TYPES[field.datatype]
        names.append(field.name)
        formats.append((code, (field.count,)) if field.count > 1 else code)
        offsets.append(field.offset)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": msg.point_step})


def cloud_to_array(msg) -> np.ndarray:
    """(height * width,) structured array of a ``PointCloud2``'s records (a view when rows are unpadded)."""
    dtype = cloud_dtype(msg)
    h, w = int(msg.height), int(msg.width)
    row_bytes = w * msg.point_step
    if msg.row_step < row_bytes or len(msg.data) < h * msg.row_step:
        raise ValueError(
            f"PointCloud2 of {w}x{h} points, point_step {msg.point_step}: row_step {msg.row_step} "
            f"or data length {len(msg.data)} too small"
        )
    raw = np.frombuffer(msg.data, np.uint8, count=h * msg.row_step).reshape(h, msg.row_step)[:, :row_bytes]
    if msg.row_step != row_bytes:
        raw = np.ascontiguousarray(raw)
    return raw.reshape(-1).view(dtype)
