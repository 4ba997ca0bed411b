import os

import pytest

from samosaic3d_ros.map_files import resolve_map_path


def test_relative_and_absolute_inside(tmp_path):
    assert resolve_map_path(tmp_path, "a", must_exist=False) == tmp_path.resolve() / "a.npz"
    assert resolve_map_path(tmp_path, str(tmp_path / "b" / "c.npz"), must_exist=False) == tmp_path.resolve() / "b/c.npz"
    assert resolve_map_path(tmp_path, "b/../d.npz", must_exist=False) == tmp_path.resolve() / "d.npz"


@pytest.mark.parametrize("path,message", [
    ("../x.npz", "outside the map folder"),
    ("/etc/passwd", "outside the map folder"),
    ("x.txt", "map files end in .npz"),
    ("", "empty path"),
    ("a\x00b", "NUL"),
])
def test_refused(tmp_path, path, message):
    with pytest.raises(ValueError, match=message):
        resolve_map_path(tmp_path / "maps", path, must_exist=False)


def test_symlink_leading_outside_is_refused(tmp_path):
    (tmp_path / "maps").mkdir()
    os.symlink(tmp_path / "elsewhere.npz", tmp_path / "maps" / "m.npz")  # dangling, points outside
    with pytest.raises(ValueError, match="outside the map folder"):
        resolve_map_path(tmp_path / "maps", "m.npz", must_exist=False)


def test_load_needs_an_existing_regular_file(tmp_path):
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(ValueError, match="no map file"):
        resolve_map_path(tmp_path, "dir.npz", must_exist=True)
    with pytest.raises(ValueError, match="is not a regular file"):
        resolve_map_path(tmp_path, "dir.npz", must_exist=False)
