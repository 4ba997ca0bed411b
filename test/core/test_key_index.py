"""KeyIndex agrees with a dict through growth, colliding batches and absent keys."""

import numpy as np
import pytest

from samosaic3d_core.key_index import KeyIndex


def test_matches_a_dict_over_many_batches():
    rng = np.random.default_rng(0)
    index, reference, next_row = KeyIndex(), {}, 0
    for _ in range(40):
        # clustered keys (like neighbouring voxels) plus far ones, including negative values
        batch = np.unique(np.concatenate([rng.integers(-3000, 3000, 300), rng.integers(-2**62, 2**62, 50)]))
        new = np.array([k for k in batch.tolist() if k not in reference], np.int64)
        rows = np.arange(next_row, next_row + len(new), dtype=np.int64)
        index.insert(new, rows)
        reference.update(zip(new.tolist(), rows.tolist()))
        next_row += len(new)
        probe = np.concatenate([batch, rng.integers(-5000, 5000, 500)])
        expected = np.array([reference.get(k, -1) for k in probe.tolist()], np.int64)
        np.testing.assert_array_equal(index.lookup(probe), expected)
    assert len(index) == len(reference) > 1024  # grew past its first table


def test_keys_hashing_to_one_slot_all_land():
    index = KeyIndex()
    keys = np.arange(0, 5000, dtype=np.int64) << 40  # share their low bits
    index.insert(keys, np.arange(5000))
    np.testing.assert_array_equal(index.lookup(keys[::-1]), np.arange(5000)[::-1])
    assert index.lookup(np.array([7], np.int64))[0] == -1


def test_from_keys_and_empty_lookup():
    index = KeyIndex.from_keys(np.array([5, -9, 12], np.int64))
    np.testing.assert_array_equal(index.lookup(np.array([12, 5, 0, -9], np.int64)), [2, 0, -1, 1])
    assert KeyIndex().lookup(np.zeros(0, np.int64)).shape == (0,)
    with pytest.raises(ValueError, match="repeat"):
        KeyIndex.from_keys(np.array([1, 1], np.int64))
    with pytest.raises(ValueError, match="rows"):
        KeyIndex().insert(np.array([1, 2], np.int64), np.array([0], np.int64))
