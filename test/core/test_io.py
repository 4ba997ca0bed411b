import numpy as np
import pytest

from samosaic3d_core.io.scene_map import read_scene_map, write_ply, write_scene_map
from samosaic3d_core.types import SceneMap


def _map(n=5):
    rng = np.random.default_rng(0)
    return SceneMap(rng.normal(size=(n, 3)).astype(np.float32), rng.integers(0, 255, (n, 3), dtype=np.uint8),
                    np.arange(n, dtype=np.int32), np.linspace(0, 1, n, dtype=np.float32))


def test_scene_map_round_trip(tmp_path):
    m = _map()
    write_scene_map(tmp_path / "a.npz", m)
    back = read_scene_map(tmp_path / "a.npz")
    for name in ("xyz", "rgb", "instance_ids", "scores"):
        np.testing.assert_array_equal(getattr(back, name), getattr(m, name))
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]  # no temp file left behind


def test_read_scene_map_rejects_foreign_files(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz"):
        read_scene_map(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a samosaic3d map"):
        read_scene_map(tmp_path / "other.npz")


def test_failed_write_keeps_previous_file(tmp_path):
    write_scene_map(tmp_path / "a.npz", _map(3))
    bad = SceneMap(np.zeros((2, 3), np.float32), None, np.zeros(2, np.int32), np.zeros(2, np.float32))
    with pytest.raises(AttributeError):
        write_scene_map(tmp_path / "a.npz", bad)
    assert len(read_scene_map(tmp_path / "a.npz")) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]


def test_write_ply_header_and_size(tmp_path):
    m = _map(4)
    write_ply(tmp_path / "m.ply", m.xyz, m.rgb, m.instance_ids)
    data = (tmp_path / "m.ply").read_bytes()
    header, body = data.split(b"end_header\n")
    assert b"element vertex 4" in header and b"property int instance" in header
    assert len(body) == 4 * (12 + 3 + 4)
    vertex = np.frombuffer(body, [("xyz", "<f4", 3), ("rgb", "u1", 3), ("instance", "<i4")])
    np.testing.assert_array_equal(vertex["xyz"], m.xyz)
    np.testing.assert_array_equal(vertex["rgb"], m.rgb)
    np.testing.assert_array_equal(vertex["instance"], m.instance_ids)


def test_load_npz_names_the_file_for_missing_empty_and_foreign_files(tmp_path):
    import pytest

    from samosaic3d_core.io.npz import load_npz

    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "text.npz").write_text("hello")
    for name in ("missing.npz", "empty.npz", "text.npz"):
        with pytest.raises(ValueError, match=f"{name}: cannot read map file"):
            load_npz(tmp_path / name, "map file")
