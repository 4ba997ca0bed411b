import numpy as np
import pytest
from skimage.segmentation import felzenszwalb as skimage_felzenszwalb

from samosaic3d_core.masks import felzenszwalb as module
from samosaic3d_core.masks.felzenszwalb import edge_order, felzenszwalb
from test.core.mask_fixtures import block_frame


def _textured(seed: int, h: int = 60, w: int = 80) -> np.ndarray:
    """Smooth colour blobs with noise and hard edges: many segments of many sizes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    image = np.zeros((h, w, 3))
    for _ in range(6):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(8, 25)
        image[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
    image += 40 * np.sin(x / rng.uniform(3, 9))[..., None] + rng.normal(0, 6, (h, w, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("scale, sigma, min_size", [(200, 0.6, 40), (50, 0.8, 5), (500, 0.0, 1)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_labels_equal_skimage(seed, scale, sigma, min_size):
    image = _textured(seed)
    expected = skimage_felzenszwalb(image, scale=scale, sigma=sigma, min_size=min_size)
    labels = felzenszwalb(image, scale, sigma, min_size)
    assert labels.shape == image.shape[:2] and expected.max() >= 3
    assert np.array_equal(labels, expected)


def test_block_frame_and_a_flat_image():
    rgb = block_frame().rgb  # flat colours: many edges of exactly equal weight
    labels, expected = felzenszwalb(rgb, 200, 0.6, 5), skimage_felzenszwalb(rgb, scale=200, sigma=0.6, min_size=5)
    # equal weights are taken in index order here and in quicksort's order by skimage: a pixel may differ
    assert labels.max() == expected.max() and (labels != expected).sum() <= 0.002 * labels.size
    flat = np.full((12, 16, 3), 77, np.uint8)  # every edge weight 0: one segment
    assert (felzenszwalb(flat, 200, 0.6, 5) == 0).all()


def test_edge_order_sorts_by_weight_with_ties_in_index_order():
    weight = np.array([0.5, 0.1, 0.5, 0.0, 0.9, 0.1, 1e-12])
    assert edge_order(weight).tolist() == [3, 6, 1, 5, 0, 2, 4]
    rng = np.random.default_rng(3)
    weight = rng.random(10000) ** 3
    # ascending up to the quantisation step (2**-32 of the largest weight)
    assert np.all(np.diff(weight[edge_order(weight)]) >= -weight.max() / 2**32)


def test_without_numba_skimage_segments(monkeypatch):
    monkeypatch.setattr(module, "njit", None)
    image = _textured(4)
    assert np.array_equal(felzenszwalb(image, 200, 0.6, 40),
                          skimage_felzenszwalb(image, scale=200, sigma=0.6, min_size=40))
