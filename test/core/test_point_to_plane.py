"""The point-to-plane normal equations: compiled and numpy paths agree, and a step recovers an offset."""

import numpy as np

from samosaic3d_core.geometry import point_to_plane
from samosaic3d_core.geometry.point_to_plane import normal_equations
from samosaic3d_core.geometry.rigid import twist

CAMERA = np.array([40.0, 40.0, 19.5, 14.5])  # fx, fy, cx, cy of a 40x30 grid


def _wall_and_floor():
    """A 40x30 grid of a wall 2 m ahead (left half) and a slanted surface (right half), with normals."""
    v, u = np.mgrid[0:30, 0:40].astype(np.float64)
    depth = np.where(u < 20, 2.0, 1.5 + 0.02 * v)
    points = np.stack([(u - CAMERA[2]) / CAMERA[0] * depth, (v - CAMERA[3]) / CAMERA[1] * depth, depth], -1)
    normals = np.zeros_like(points)
    normals[u < 20] = (0.0, 0.0, -1.0)
    slant = np.array([0.0, 0.02 * CAMERA[1], -1.0])  # facing the camera
    normals[u >= 20] = slant / np.linalg.norm(slant)
    normals[:, 0] = 0.0  # a border without normals
    return points, normals


def test_compiled_and_numpy_systems_agree(monkeypatch):
    points, normals = _wall_and_floor()
    rng = np.random.default_rng(0)
    pts = points.reshape(-1, 3)[rng.choice(1200, 500, replace=False)] + rng.normal(0, 0.01, (500, 3))
    pts[:20, 2] = -1.0  # behind the camera
    pose_cw = twist(np.array([0.01, -0.02, 0.005, 0.02, 0.0, -0.01]))
    compiled = normal_equations(pts, pose_cw, points, normals, CAMERA, 0.05, 0.01)
    monkeypatch.setattr(point_to_plane, "_normal_equations", None)
    plain = normal_equations(pts, pose_cw, points, normals, CAMERA, 0.05, 0.01)
    assert compiled[0] == plain[0] and 100 < compiled[0] < 480
    np.testing.assert_allclose(compiled[1], plain[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(compiled[2], plain[2], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(compiled[1], compiled[1].T)


def test_a_step_moves_points_back_onto_the_surfaces():
    points, normals = _wall_and_floor()
    pts = points[5:25, 2:38].reshape(-1, 3)
    offset = np.array([0.0, 0.0, 0.01])  # the map seen 1 cm too deep
    pairs, hessian, gradient = normal_equations(pts + offset, np.eye(4), points, normals, CAMERA, 0.05, 0.05)
    assert pairs == len(pts)
    xi = -np.linalg.solve(hessian + 1e-9 * np.eye(6), gradient)
    moved = (pts + offset) @ twist(xi)[:3, :3].T + twist(xi)[:3, 3]
    assert np.abs(moved[:, 2] - pts[:, 2]).max() < 1e-3
