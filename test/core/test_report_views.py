import numpy as np

from samosaic3d_core.colors import UNLABELED_RGB, id_colors
from samosaic3d_core.report.overlay import overlay_labels
from samosaic3d_core.report.views import look_at, splat, top_down
from samosaic3d_core.types import CameraIntrinsics, check_rigid


def test_palette_stable_and_distinct():
    a = id_colors(np.arange(0, 50))
    assert tuple(a[0]) == UNLABELED_RGB
    np.testing.assert_array_equal(a, id_colors(np.arange(0, 50)))
    np.testing.assert_array_equal(id_colors(np.array([7]))[0], a[7])
    # consecutive ids are clearly different colours
    diffs = np.abs(a[2:].astype(int) - a[1:-1].astype(int)).sum(1)
    assert diffs.min() > 60


def test_look_at_is_rigid_and_points_forward():
    pose = look_at(np.array([0.0, -3.0, 2.0]), np.array([0.0, 0.0, 0.0]))
    check_rigid(pose)
    forward = pose[:3, 2]
    np.testing.assert_allclose(forward, np.array([0, 3, -2]) / np.sqrt(13), atol=1e-9)
    assert pose[2, 1] < 0  # image "down" (camera y) points down in the world


def test_splat_near_point_wins():
    k = CameraIntrinsics(10, 10, 5, 5, 11, 11)
    xyz = np.array([[0, 0, 2.0], [0, 0, 1.0], [0, 0, 3.0]])
    rgb = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    img = splat(xyz, rgb, k, np.eye(4), radius=0)
    assert tuple(img[5, 5]) == (0, 255, 0)
    assert tuple(img[0, 0]) == (255, 255, 255)


def test_top_down_highest_point_wins():
    xyz = np.array([[0, 0, 0.0], [0, 0, 1.0], [1, 1, 0.0]])
    rgb = np.array([[1, 1, 1], [2, 2, 2], [3, 3, 3]], np.uint8)
    img = top_down(xyz, rgb, size=11, margin=0.0)
    assert tuple(img[10, 0]) == (2, 2, 2)  # x=0,y=0 -> bottom-left
    assert tuple(img[0, 10]) == (3, 3, 3)


def test_overlay_blends_labels_only():
    rgb = np.full((4, 4, 3), 100, np.uint8)
    labels = np.zeros((4, 4), int)
    labels[1:3, 1:3] = 5
    out = overlay_labels(rgb, labels, alpha=0.5, draw_edges=False)
    assert tuple(out[0, 0]) == (100, 100, 100)
    np.testing.assert_allclose(out[1, 1], 0.5 * 100 + 0.5 * id_colors(np.array([5]))[0], atol=1)


def test_top_down_radius_fills_neighbours_and_keeps_the_highest_point():
    from samosaic3d_core.report.views import top_down

    xyz = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 2.0]])  # the last is above the second
    rgb = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    image = top_down(xyz, rgb, size=11, margin=0.0, radius=1)
    assert image[10, 0].tolist() == [255, 0, 0] and image[9, 1].tolist() == [255, 0, 0]  # (0, 0) and a neighbour
    assert image[0, 10].tolist() == [0, 0, 255] and image[1, 9].tolist() == [0, 0, 255]  # highest wins, also around
    assert image[5, 5].tolist() == [255, 255, 255]
