import numpy as np

from samosaic3d_core.colors import UNLABELED_RGB, id_colors, instance_rgb


def test_palette_colour_per_id_camera_colour_where_unlabeled():
    ids = np.array([0, 3, 3, 7, 0])
    camera = np.arange(15, dtype=np.uint8).reshape(5, 3)
    out = instance_rgb(ids, camera)
    np.testing.assert_array_equal(out[[1, 2, 3]], id_colors(np.array([3, 3, 7])))
    np.testing.assert_array_equal(out[[0, 4]], camera[[0, 4]])
    np.testing.assert_array_equal(instance_rgb(ids)[0], UNLABELED_RGB)


def test_large_ids_take_the_same_colours():
    ids = np.array([5, 10**9, 5, 0])
    np.testing.assert_array_equal(instance_rgb(ids), id_colors(ids))
    assert instance_rgb(np.zeros(0, np.int64)).shape == (0, 3)


def test_palette_exact_colours():
    """Pinned values: saved pictures, the docs' RViz image and users' RViz sessions show these."""
    expected = [[128, 128, 128], [53, 98, 205], [134, 219, 15], [78, 224, 72], [214, 193, 47]]
    assert id_colors(np.array([0, 1, 2, 7, -3])).tolist() == expected
