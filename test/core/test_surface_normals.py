"""Surface normals of a depth image: the compiled pass equals numpy's arithmetic, and planes read right."""

import numpy as np

from samosaic3d_core.masks import regions
from test.core.mask_fixtures import block_frame


def _camera(frame):
    k = frame.intrinsics
    return np.array([k.fx, k.fy, k.cx, k.cy], np.float32)


def test_compiled_normals_equal_numpys_bit_for_bit():
    frame = block_frame()
    depth = frame.depth.copy()
    v, u = np.mgrid[0:48, 0:64]
    depth += (0.01 * u + 0.003 * v * v / 48).astype(np.float32)  # slanted and curved surfaces
    depth[5, 5] = np.nan
    depth[6, 6:9] = 0.0
    depth[40, 60] = np.inf
    camera = _camera(frame)
    compiled = regions._camera_normals(depth, camera)
    plain = regions._camera_normals_numpy(depth, camera)
    np.testing.assert_array_equal(compiled, plain)
    assert compiled.dtype == np.float32
    assert (compiled[[5, 5, 4, 6], [4, 6, 5, 5]] == 0).all()  # no normal from a difference across a hole


def test_a_wall_facing_the_camera_has_its_normal_along_the_view_axis():
    frame = block_frame()
    depth = np.full((48, 64), 3.0, np.float32)
    n = regions._camera_normals(depth, _camera(frame))
    np.testing.assert_allclose(n[1:-1, 1:-1], np.broadcast_to([0, 0, 1], (46, 62, 3)), atol=1e-6)
    world = regions.world_normals(frame)  # identity pose: the same frame
    assert world.shape == (48, 64, 3) and np.allclose(np.linalg.norm(world[20, 10]), 1.0)
