"""Atomic writes and output-path checks (retroprop.files)."""

from __future__ import annotations

import errno
import os

import pytest

from retroprop.files import OutputPathError, atomic_write, check_output_path, fallback_path, write_text


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as handle:
        handle.write("half")
        raise RuntimeError("the writer failed halfway")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["model.txt"]


def test_a_full_disk_at_the_rename_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    write_text(target, "old")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError, match="No space"):
        write_text(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_a_new_file_gets_the_usual_permissions_and_a_replaced_file_keeps_its_own(tmp_path):
    mask = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.txt"
        write_text(fresh, "x")
        assert fresh.stat().st_mode & 0o777 == 0o644
        kept = tmp_path / "kept.txt"
        kept.write_text("x")
        kept.chmod(0o600)
        write_text(kept, "y")
        assert kept.stat().st_mode & 0o777 == 0o600 and kept.read_text() == "y"
    finally:
        os.umask(mask)


def test_writing_through_a_symbolic_link_keeps_the_link(tmp_path):
    real = tmp_path / "runs" / "latest.txt"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "model.txt"
    link.symlink_to(real)
    write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_output_paths_are_checked_before_any_work(tmp_path):
    with pytest.raises(OutputPathError, match=r"must be a \.safetensors or \.npz file"):
        check_output_path(tmp_path / "m.pt", what="model", suffixes=(".safetensors", ".npz"))
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_path(tmp_path, what="report")
    with pytest.raises(OutputPathError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "r.html")
    made = check_output_path(tmp_path / "new" / "r.html", create_folder=True)
    assert made.parent.is_dir() and not made.exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputPathError, match="is not a folder"):
        check_output_path(blocker / "r.html")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputPathError, match="permission denied"):
            check_output_path(folder / "m.npz")
    finally:
        folder.chmod(0o700)


def test_fallback_paths_are_new_files_next_to_the_target(tmp_path):
    target = tmp_path / "model.safetensors"
    first = fallback_path(target)
    assert first == tmp_path / "model.recovered.safetensors"
    first.write_text("")
    assert fallback_path(target) == tmp_path / "model.recovered-1.safetensors"
