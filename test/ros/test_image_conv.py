import numpy as np
import pytest

from test.ros.ros_env import require_ros

require_ros()

from sensor_msgs.msg import Image  # noqa: E402

from samosaic3d_ros.image_conv import image_to_depth, image_to_rgb, rgb_to_image  # noqa: E402


def make_image(pixels: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False) -> Image:
    """Image message of (H, W[, C]) ``pixels`` with ``pad`` junk bytes after each row."""
    h, w = pixels.shape[:2]
    rows = pixels.astype(pixels.dtype.newbyteorder(">" if bigendian else "<")).reshape(h, -1).view(np.uint8)
    rows = np.concatenate([rows, np.full((h, pad), 0xAB, np.uint8)], axis=1)
    return Image(height=h, width=w, encoding=encoding, is_bigendian=int(bigendian), step=rows.shape[1], data=rows.tobytes())


RGB = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)


@pytest.mark.parametrize("pad", [0, 3])
@pytest.mark.parametrize(
    "encoding,pixels",
    [
        ("rgb8", RGB),
        ("bgr8", RGB[:, :, ::-1]),
        ("rgba8", np.concatenate([RGB, np.full((4, 5, 1), 255, np.uint8)], axis=2)),
        ("bgra8", np.concatenate([RGB[:, :, ::-1], np.full((4, 5, 1), 7, np.uint8)], axis=2)),
    ],
)
def test_color_encodings_give_rgb(encoding, pixels, pad):
    out = image_to_rgb(make_image(np.ascontiguousarray(pixels), encoding, pad))
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, RGB)


def test_mono8_is_replicated():
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5)
    out = image_to_rgb(make_image(gray, "mono8", pad=2))
    np.testing.assert_array_equal(out, np.stack([gray] * 3, axis=2))


def test_rgb8_without_padding_is_zero_copy():
    msg = make_image(RGB, "rgb8")
    out = image_to_rgb(msg)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))


def test_unsupported_color_encoding_is_named():
    with pytest.raises(ValueError, match="colour encoding 'yuv422' not supported; expected one of rgb8"):
        image_to_rgb(make_image(RGB[:, :, :2].copy(), "yuv422"))


@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("pad", [0, 2, 1])
def test_depth_16uc1_millimetres(bigendian, pad):
    mm = np.array([[0, 1000, 1500], [65535, 2, 250]], np.uint16)
    out = image_to_depth(make_image(mm, "16UC1", pad, bigendian), depth_scale=0.001)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, mm.astype(np.float32) / np.float32(1000))
    assert out[0, 1] == np.float32(1.0) and out[0, 0] == 0


def test_depth_16uc1_matches_the_dataset_reader(tmp_path):
    from PIL import Image

    from samosaic3d_core.data.scannet import read_depth

    mm = np.arange(0, 65535, 7, dtype=np.uint16)[:9360].reshape(72, 130)
    Image.fromarray(mm).save(tmp_path / "d.png")
    from_png = read_depth(tmp_path / "d.png", 1000.0)
    out = image_to_depth(make_image(mm, "16UC1", 0, False), depth_scale=0.001)
    np.testing.assert_array_equal(out, from_png)  # bit for bit: a bag replays the dataset's metres
    assert np.count_nonzero(mm.astype(np.float32) * np.float32(0.001) != from_png) > 100  # the old product did not


@pytest.mark.parametrize("bigendian", [False, True])
def test_depth_32fc1_metres_invalid_becomes_zero(bigendian):
    m = np.array([[1.25, np.nan, -1.0], [np.inf, 0.0, 3.5]], np.float32)
    out = image_to_depth(make_image(m, "32FC1", pad=4, bigendian=bigendian))
    np.testing.assert_array_equal(out, np.array([[1.25, 0, 0], [0, 0, 3.5]], np.float32))


def test_unsupported_depth_encoding_is_named():
    with pytest.raises(ValueError, match="depth encoding 'mono16' not supported; expected 16UC1 or 32FC1"):
        image_to_depth(make_image(np.zeros((2, 2), np.uint16), "mono16"))


def test_short_data_and_small_step_are_refused():
    msg = make_image(RGB, "rgb8")
    msg.data = bytes(10)
    with pytest.raises(ValueError, match="data has 10 bytes, expected step\\*height = 60"):
        image_to_rgb(msg)
    msg = make_image(RGB, "rgb8")
    msg.step = 14
    with pytest.raises(ValueError, match="step 14 is smaller than width\\*pixel size 15"):
        image_to_rgb(msg)


def test_rgb_to_image_round_trip():
    msg = rgb_to_image(RGB)
    assert (msg.encoding, msg.step, msg.height, msg.width) == ("rgb8", 15, 4, 5)
    np.testing.assert_array_equal(image_to_rgb(msg), RGB)
