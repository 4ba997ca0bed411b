import numpy as np

from samosaic3d_core.colors import id_colors
from samosaic3d_core.report.rviz_view import (
    BACKGROUND, BOX_EDGES, GRID_RGB, box_corners, grid_segments, instances_from_map, render_rviz_view,
)
from samosaic3d_core.types import Instances, SceneMap

# a 21 x 21 picture whose camera (identity pose: at the origin, looking along +z) has f = 10 px, centre (10, 10)
SIZE = 21
FOV_F10 = 2 * np.arctan(SIZE / 2 / 10)
CAMERA = np.eye(4)


def scene_map(xyz, ids, rgb=(9, 9, 9), score=0.5) -> SceneMap:
    xyz = np.asarray(xyz, np.float32).reshape(-1, 3)
    n = len(xyz)
    return SceneMap(xyz=xyz, rgb=np.tile(np.asarray(rgb, np.uint8), (n, 1)),
                    instance_ids=np.asarray(ids, np.int32), scores=np.full(n, score, np.float32))


def render(map_, instances=None, **kwargs):
    kwargs = {"grid": False, "axes": False, "labels": False, "box_line_px": 1, **kwargs}
    return render_rviz_view(map_, instances, pose=CAMERA, width=SIZE, height=SIZE, fov_y=FOV_F10, **kwargs)


def painted(image) -> set[tuple[int, int]]:
    """(row, col) of the pixels that are not background."""
    rows, cols = np.nonzero(np.any(image != BACKGROUND, axis=2))
    return set(zip(rows.tolist(), cols.tolist()))


def square(lo: int, hi: int) -> set[tuple[int, int]]:
    return {(r, c) for r in range(lo, hi + 1) for c in range(lo, hi + 1) if r in (lo, hi) or c in (lo, hi)}


def test_box_corners_and_edges_follow_the_bits():
    corners = box_corners([0, 0, 0], [1, 2, 3])
    np.testing.assert_array_equal(corners[5], [1, 0, 3])  # bits x and z
    lengths = sorted(np.linalg.norm(corners[BOX_EDGES[:, 0]] - corners[BOX_EDGES[:, 1]], axis=1).tolist())
    assert lengths == [1.0] * 4 + [2.0] * 4 + [3.0] * 4


def test_a_box_draws_its_12_edges_at_the_projected_pixels():
    # x, y in [-1, 1], z in [2, 5]: the near face projects to the square 5..15, the far face to 8..12,
    # and the four edges along z to the diagonals between their corners
    box = Instances(ids=np.array([4]), scores=np.array([0.9], np.float32),
                    box_min=np.array([[-1, -1, 2]], np.float32), box_max=np.array([[1, 1, 5]], np.float32),
                    num_points=np.array([0]))
    image = render(scene_map(np.zeros((0, 3)), []), box)
    diagonals = {(5 + i, 5 + i) for i in range(4)} | {(15 - i, 15 - i) for i in range(4)} \
        | {(5 + i, 15 - i) for i in range(4)} | {(15 - i, 5 + i) for i in range(4)}
    assert painted(image) == square(5, 15) | square(8, 12) | diagonals
    for row, col in painted(image):
        assert tuple(image[row, col]) == tuple(id_colors(np.array([4]))[0])


def test_a_point_lands_at_its_pixel_in_its_instance_colour():
    image = render(scene_map([[0.2, -0.4, 2.0]], [7]), Instances.empty(), )
    # u = 10 + 10 * 0.2 / 2 = 11, v = 10 - 10 * 0.4 / 2 = 8; 3 px points
    assert painted(image) == {(r, c) for r in (7, 8, 9) for c in (10, 11, 12)}
    assert tuple(image[8, 11]) == tuple(id_colors(np.array([7]))[0])
    assert tuple(image[0, 0]) == BACKGROUND


def test_unlabeled_points_keep_their_camera_colour_and_the_nearest_point_wins():
    map_ = scene_map([[0, 0, 3.0], [0, 0, 2.0]], [5, 0], rgb=(9, 8, 7))
    image = render(map_, Instances.empty())
    assert tuple(image[10, 10]) == (9, 8, 7)  # id 0 at 2 m hides id 5 at 3 m


def test_points_hide_box_edges_behind_them():
    box = Instances(ids=np.array([4]), scores=np.array([0.9], np.float32),
                    box_min=np.array([[-1, -1, 2]], np.float32), box_max=np.array([[1, 1, 5]], np.float32),
                    num_points=np.array([0]))
    in_front = scene_map([[-0.9, -0.9, 1.8]], [0], rgb=(1, 2, 3))  # u = v = 10 - 5 = 5: the near corner's pixel
    image = render(in_front, box)
    assert tuple(image[5, 5]) == (1, 2, 3)
    behind = scene_map([[-1.2, -1.2, 2.4]], [0], rgb=(1, 2, 3))  # the same pixel, behind the near corner
    assert tuple(render(behind, box)[5, 5]) == tuple(id_colors(np.array([4]))[0])


def test_boxes_from_the_map_and_labels_above_them():
    map_ = scene_map([[-1, -1, 4], [1, 1, 5], [0, 0, 9]], [3, 3, 0])
    inst = instances_from_map(map_)
    assert inst.ids.tolist() == [3]
    np.testing.assert_array_equal(inst.box_min, [[-1, -1, 4]])
    np.testing.assert_array_equal(inst.box_max, [[1, 1, 5]])
    plain = render(map_)
    labelled = render(map_, labels=True)
    changed = np.any(plain != labelled, axis=2)
    assert changed.any() and not changed[11:].any()  # text only above the box centre (v = 10)


def test_grid_and_axes():
    start, end = grid_segments(cells=2, cell_size=1.0)
    assert len(start) == 6 and np.all(start[:, 2] == 0) and np.abs(start).max() == 1.0
    assert GRID_RGB == (104, 104, 106)  # (160, 160, 164) at alpha 0.5 over the background
    # looking straight down at the origin from 2 m up: +x to the right of the centre, in red
    from samosaic3d_core.report.views import look_at

    down = look_at(np.array([0.0, 0.0, 2.0]), np.zeros(3), up=(0.0, 1.0, 0.0))
    image = render_rviz_view(scene_map(np.zeros((0, 3)), []), Instances.empty(), pose=down, width=SIZE,
                             height=SIZE, fov_y=FOV_F10, grid=False, labels=False)
    x_tip = (down[:3, :3].T @ (np.array([0.9, 0, 0]) - down[:3, 3]))
    col, row = 10 + 10 * x_tip[0] / x_tip[2], 10 + 10 * x_tip[1] / x_tip[2]
    assert tuple(image[int(round(row)), int(round(col))]) == (255, 0, 0)
