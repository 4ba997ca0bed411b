"""Concave and convex meetings of surface pieces (``geometry.convexity``), on hand-made faces."""

import numpy as np

from samosaic3d_core.geometry import facing, instance_concavity

CAMERA = np.array([0.0, -3.0, 1.5])  # in front of everything (-y), above


def _face(centre, normal, size=0.2, count=25):
    """Points on a square face around ``centre`` perpendicular to ``normal``, with that normal."""
    normal = np.asarray(normal, float)
    a = np.cross(normal, [0.0, 0.0, 1.0] if abs(normal[2]) < 0.9 else [1.0, 0.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(normal, a)
    s = np.linspace(-size / 2, size / 2, int(np.sqrt(count)))
    grid = np.array([centre + u * a + v * b for u in s for v in s])
    return grid, np.repeat(normal[None], len(grid), axis=0)


def _pieces(*faces):
    xyz, normals, local = [], [], []
    for k, face in enumerate(faces, start=1):
        for points, n in face:
            xyz.append(points)
            normals.append(n)
            local.append(np.full(len(points), k))
    return np.concatenate(xyz), np.concatenate(normals), np.concatenate(local)


def test_facing_turns_normals_towards_the_viewpoint():
    xyz = np.zeros((2, 3))
    normals = np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    np.testing.assert_array_equal(facing(normals, xyz, CAMERA), [[0, -1, 0], [0, -1, 0]])


def test_a_box_top_and_front_are_convex_a_book_on_a_board_is_concave():
    top = [_face([0.0, 0.0, 1.0], [0, 0, 1])]  # a counter: its top ...
    front = [_face([0.0, -0.1, 0.9], [0, -1, 0])]  # ... and its front face, meeting at the edge
    xyz, normals, local = _pieces(top, front)
    concave = instance_concavity(xyz, facing(normals, xyz, CAMERA), local, 2)
    assert not concave.any()

    board = [_face([0.0, 0.0, 0.5], [0, 0, 1], size=0.6)]  # a shelf board, and a book standing on it
    book = [_face([0.0, -0.05, 0.6], [0, -1, 0])]
    xyz, normals, local = _pieces(board, book)
    # the normals as a depth image gives them, pointing away from the camera: turned by facing
    concave = instance_concavity(xyz, facing(-normals, xyz, CAMERA), local, 2)
    assert concave.tolist() == [[False, True], [True, False]]


def test_instances_without_points_and_points_of_no_instance():
    board = [_face([0.0, 0.0, 0.5], [0, 0, 1], size=0.6)]
    book = [_face([0.0, -0.05, 0.6], [0, -1, 0])]
    xyz, normals, local = _pieces(board, book)
    stray = np.zeros((1, 3)), np.array([[1.0, 0.0, 0.0]]), np.zeros(1, np.int64)  # local id 0
    xyz, normals, local = (np.concatenate([a, b]) for a, b in zip((xyz, normals, local), stray))
    concave = instance_concavity(xyz, facing(normals, xyz, CAMERA), local, 3)  # instance 3 has no points
    assert concave[0, 1] and concave[1, 0] and not concave[2].any() and not concave[:, 2].any()
