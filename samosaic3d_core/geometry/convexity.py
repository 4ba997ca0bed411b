"""Whether two pieces of surface meet at a concave or a convex angle (LCCP's test, on whole pieces).

Stein et al., "Object Partitioning using Local Convexity" (CVPR 2014): two adjacent patches with
centroids x_i, x_j and normals n_i, n_j (facing the viewer) are convexly connected when

    (n_i - n_j) . (x_i - x_j) > 0

The faces of one object turn away from each other (a counter's front and top: convex); an object
and what it stands on or in face each other (a book and its shelf board, a bottle and the counter
top: concave). Here each piece is a frame instance: its centroid and its mean normal.
"""

from __future__ import annotations

import numpy as np


def facing(normals: np.ndarray, xyz: np.ndarray, viewpoint: np.ndarray) -> np.ndarray:
    """(N, 3) ``normals`` of the points ``xyz`` turned to face ``viewpoint`` (3,) (sign flipped where not)."""
    normals = np.asarray(normals, np.float64)
    away = np.einsum("ij,ij->i", normals, np.asarray(viewpoint, np.float64) - xyz) < 0
    return np.where(away[:, None], -normals, normals)


def instance_concavity(xyz: np.ndarray, normals: np.ndarray, local: np.ndarray, num_instances: int) -> np.ndarray:
    """(K, K) bool: instance i and j meet at a concave angle, (n_i - n_j) . (x_i - x_j) < 0 for
    their centroids x and mean unit normals n (False on the diagonal and for an instance without points).

    xyz: (N, 3) points; normals: (N, 3) unit normals facing the viewer (``facing``; zero where
    undefined); local: (N,) instance 1..K per point, 0 = none.
    """
    local = np.asarray(local, np.int64)
    member = local > 0
    index = local[member] - 1
    count = np.bincount(index, minlength=num_instances)[:num_instances]
    centroid = np.zeros((num_instances, 3))
    np.add.at(centroid, index, np.asarray(xyz, np.float64)[member])
    centroid /= np.maximum(count, 1)[:, None]
    normal = np.zeros((num_instances, 3))
    np.add.at(normal, index, np.asarray(normals, np.float64)[member])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    convexity = np.einsum("ijk,ijk->ij", normal[:, None] - normal[None], centroid[:, None] - centroid[None])
    concave = convexity < 0
    concave[count == 0] = False
    concave[:, count == 0] = False
    np.fill_diagonal(concave, False)
    return concave
