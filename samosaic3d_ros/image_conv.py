"""numpy views over ``sensor_msgs/Image`` data (what cv_bridge does, without OpenCV).

Colour images come out as (H, W, 3) uint8 RGB, depth as (H, W) float32 metres with
0 = no measurement. Row padding (``step`` > width * bytes per pixel) and ``is_bigendian``
are honoured. Colour conversion is zero-copy for ``rgb8`` and a strided view for
``bgr8`` / ``rgba8`` / ``bgra8``; ``mono8`` is replicated to three channels.
"""

from __future__ import annotations

import numpy as np

# encoding -> (channels, channel order giving R, G, B)
COLOR_ENCODINGS: dict[str, tuple[int, tuple[int, ...]]] = {
    "rgb8": (3, (0, 1, 2)),
    "bgr8": (3, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
    "mono8": (1, (0, 0, 0)),
}
DEPTH_ENCODINGS = ("16UC1", "32FC1")


def image_view(msg, dtype: np.dtype, channels: int) -> np.ndarray:
    """(H, W, C) view of ``msg.data`` as ``dtype`` (byte order from ``is_bigendian``), rows unpadded.

    Raises ValueError if ``step`` or the data length do not fit the image size.
    """
    dtype = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<")
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    row_bytes = w * channels * dtype.itemsize
    if h == 0 or w == 0:
        raise ValueError(f"image '{msg.encoding}' is empty ({w}x{h})")
    if step < row_bytes:
        raise ValueError(f"image step {step} is smaller than width*pixel size {row_bytes} ({msg.encoding}, {w}x{h})")
    if len(msg.data) < h * step:
        raise ValueError(f"image data has {len(msg.data)} bytes, expected step*height = {h * step} ({msg.encoding})")
    rows = np.frombuffer(msg.data, np.uint8, count=h * step).reshape(h, step)[:, :row_bytes]  # (H, row_bytes)
    if step % dtype.itemsize == 0:
        return rows.view(dtype).reshape(h, w, channels)
    return np.ascontiguousarray(rows).view(dtype).reshape(h, w, channels)  # odd padding: realign


def image_to_rgb(msg) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an ``rgb8``/``bgr8``/``rgba8``/``bgra8``/``mono8`` image (a view where possible)."""
    if msg.encoding not in COLOR_ENCODINGS:
        raise ValueError(
            f"colour encoding '{msg.encoding}' not supported; expected one of {', '.join(COLOR_ENCODINGS)}"
        )
    channels, order = COLOR_ENCODINGS[msg.encoding]
    pixels = image_view(msg, np.uint8, channels)
    if msg.encoding == "mono8":
        return np.repeat(pixels, 3, axis=2)
    if order == (2, 1, 0):
        return pixels[:, :, 2::-1]  # BGR(A) -> RGB as a strided view
    return pixels[:, :, :3]


def image_to_depth(msg, depth_scale: float = 0.001) -> np.ndarray:
    """(H, W) float32 metres from a ``16UC1`` (units of ``depth_scale`` m, usually mm) or ``32FC1`` (m) image.

    Non-finite and non-positive values become 0 (= no measurement). 16UC1 is divided by the units
    per metre (1000 for mm), as the dataset reader divides PNG depth: both give the same float32
    metres, where multiplying by the inexact float32 0.001 differs in the last bit for many values.
    """
    if msg.encoding == "16UC1":
        raw = image_view(msg, np.uint16, 1)[:, :, 0]
        return raw.astype(np.float32) / np.float32(1.0 / depth_scale)
    if msg.encoding == "32FC1":
        depth = image_view(msg, np.float32, 1)[:, :, 0].astype(np.float32)  # native byte order, a copy
        depth[~(depth > 0) | ~np.isfinite(depth)] = 0.0
        return depth
    raise ValueError(f"depth encoding '{msg.encoding}' not supported; expected {' or '.join(DEPTH_ENCODINGS)}")


def rgb_to_image(rgb: np.ndarray, header=None):
    """``sensor_msgs/Image`` (rgb8) holding ``rgb`` (H, W, 3) uint8."""
    import array

    from sensor_msgs.msg import Image

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb_to_image expects (H, W, 3) uint8, got shape {rgb.shape}")
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = "rgb8"
    msg.is_bigendian = 0
    msg.step = msg.width * 3
    data = array.array("B")
    data.frombytes(rgb.reshape(-1))
    msg.data = data
    return msg
