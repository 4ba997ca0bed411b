"""One Gauss-Newton step of projective point-to-plane ICP: the 6x6 normal equations.

Map points are moved by the current world-to-camera pose, projected into a (downsampled) depth
grid of the frame, and paired with the frame's point and normal at that pixel; pairs closer than
``reach`` enter the normal equations with a Huber weight. The twist is (rotation, translation),
the Jacobian of a residual n . (s - p) is [s x n, n].

The compiled loop visits each point once and accumulates the 21 distinct entries of the system;
the numpy one (used without numba) builds the same sums from temporaries, about ten times slower
(10,000 points: 0.04 vs 0.8 ms per step). Sums are taken in another order, so the two agree to
rounding, not bit for bit.
"""

from __future__ import annotations

import numpy as np

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; numpy's path keeps this usable without it
    njit = None


def project_to_grid(cam: np.ndarray, grid_points: np.ndarray, grid_normals: np.ndarray, camera: np.ndarray):
    """Pair camera-space points (M, 3) with the grid pixel they project to.

    ``camera``: (fx, fy, cx, cy) of the grid. Returns (in_view (M,) bool, frame point (M, 3), frame
    normal (M, 3)); a point is in view where it lies more than 0.1 m in front of the camera, inside
    the grid, on a pixel with a normal.
    """
    h, w = grid_points.shape[:2]
    fx, fy, cx, cy = camera
    z = cam[:, 2]
    inv_z = 1.0 / np.where(z > 0.1, z, np.inf)  # 0 behind or too close: lands on the principal point, dropped below
    u = (cam[:, 0] * inv_z * fx + (cx + 0.5)).astype(np.int64)  # + 0.5 then truncate: round
    v = (cam[:, 1] * inv_z * fy + (cy + 0.5)).astype(np.int64)
    inside = (inv_z > 0) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    pixel = np.where(inside, v * w + u, 0)
    normal = np.take(grid_normals.reshape(-1, 3), pixel, axis=0)  # np.take: 4x faster than [pixel] here
    inside &= normal[:, 2] != 0  # normals face the camera: z < 0 wherever one exists
    return inside, np.take(grid_points.reshape(-1, 3), pixel, axis=0), normal


def normal_equations(
    pts: np.ndarray, pose_cw: np.ndarray, grid_points: np.ndarray, grid_normals: np.ndarray,
    camera: np.ndarray, reach: float, huber: float,
) -> tuple[int, np.ndarray, np.ndarray]:
    """(pairs within ``reach``, H (6, 6), g (6,)) of the Huber-weighted point-to-plane residuals of
    world points ``pts`` (M, 3) under the world-to-camera ``pose_cw``; the step is -H^-1 g."""
    if _normal_equations is not None:
        return _normal_equations(np.ascontiguousarray(pts, np.float64), np.ascontiguousarray(pose_cw, np.float64),
                                 grid_points, grid_normals, np.asarray(camera, np.float64), reach * reach, huber)
    s = pts @ pose_cw[:3, :3].T + pose_cw[:3, 3]
    ok, p, n = project_to_grid(s, grid_points, grid_normals, camera)
    gap = s - p
    near = ok & (np.einsum("ij,ij->i", gap, gap) < reach**2)
    s, p, n = s[near], p[near], n[near]
    r = np.einsum("ij,ij->i", n, s - p)
    weight = np.minimum(1.0, huber / np.maximum(np.abs(r), 1e-12))
    jac = np.concatenate([np.cross(s, n), n], axis=1)
    weighted = jac * weight[:, None]
    return int(near.sum()), weighted.T @ jac, weighted.T @ r


def _normal_equations_py(pts, pose_cw, grid_points, grid_normals, camera, reach2, huber):
    h, w = grid_points.shape[0], grid_points.shape[1]
    fx, fy, cx, cy = camera[0], camera[1], camera[2], camera[3]
    hessian = np.zeros((6, 6))
    gradient = np.zeros(6)
    jac = np.empty(6)
    pairs = 0
    for i in range(pts.shape[0]):
        x, y, z = pts[i, 0], pts[i, 1], pts[i, 2]
        s0 = pose_cw[0, 0] * x + pose_cw[0, 1] * y + pose_cw[0, 2] * z + pose_cw[0, 3]
        s1 = pose_cw[1, 0] * x + pose_cw[1, 1] * y + pose_cw[1, 2] * z + pose_cw[1, 3]
        s2 = pose_cw[2, 0] * x + pose_cw[2, 1] * y + pose_cw[2, 2] * z + pose_cw[2, 3]
        if not s2 > 0.1:
            continue
        inv_z = 1.0 / s2
        u = np.int64(s0 * inv_z * fx + (cx + 0.5))
        v = np.int64(s1 * inv_z * fy + (cy + 0.5))
        if u < 0 or u >= w or v < 0 or v >= h or grid_normals[v, u, 2] == 0:
            continue
        g0, g1, g2 = s0 - grid_points[v, u, 0], s1 - grid_points[v, u, 1], s2 - grid_points[v, u, 2]
        if not g0 * g0 + g1 * g1 + g2 * g2 < reach2:
            continue
        n0, n1, n2 = grid_normals[v, u, 0], grid_normals[v, u, 1], grid_normals[v, u, 2]
        r = n0 * g0 + n1 * g1 + n2 * g2
        weight = min(1.0, huber / max(abs(r), 1e-12))
        jac[0], jac[1], jac[2] = s1 * n2 - s2 * n1, s2 * n0 - s0 * n2, s0 * n1 - s1 * n0
        jac[3], jac[4], jac[5] = n0, n1, n2
        for a in range(6):
            wa = weight * jac[a]
            gradient[a] += wa * r
            for b in range(a + 1):
                hessian[a, b] += wa * jac[b]
        pairs += 1
    for a in range(6):
        for b in range(a):
            hessian[b, a] = hessian[a, b]
    return pairs, hessian, gradient


_normal_equations = njit(cache=True, nogil=True)(_normal_equations_py) if njit is not None else None
