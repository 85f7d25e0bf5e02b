import os
import stat

import pytest

from taxon.core.store import atomic_dir, atomic_write_text, hash_value


def test_hash_value_ignores_key_order():
    assert hash_value({"a": 1, "b": [1, 2]}) == hash_value({"b": [1, 2], "a": 1})
    assert hash_value({"a": 1}) != hash_value({"a": 2})


def test_atomic_write_leaves_no_temp_and_honours_umask(tmp_path):
    target = tmp_path / "out" / "file.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_atomic_dir_is_all_or_nothing(tmp_path):
    final = tmp_path / "bundle"
    with pytest.raises(RuntimeError):
        with atomic_dir(final) as building:
            (building / "half.txt").write_text("x")
            raise RuntimeError("killed")
    assert not final.exists() and list(tmp_path.iterdir()) == []
    with atomic_dir(final) as building:
        (building / "whole.txt").write_text("x")
    with atomic_dir(final) as building:
        (building / "newer.txt").write_text("y")
        os.chmod(building / "newer.txt", 0o600)  # as safetensors writes its files
    assert sorted(p.name for p in final.iterdir()) == ["newer.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
    assert (final / "newer.txt").read_text() == "y"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((final / "newer.txt").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE(final.stat().st_mode) == 0o777 & ~mask
