"""Safe extraction (issue 15): archives with traversal, absolute paths, escaping links or device files are refused
with nothing written anywhere; a missing member names the archive's top level; too little disk space is an error
before anything is written; a folder member is published whole."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections import namedtuple

import pytest

from harness.data import extract
from harness.errors import DataError, InsufficientSpaceError, UnsafeArchiveError
from tests.harness.data.minidata import tar_bytes, zip_bytes
from zoo.registry.schema import ArchiveMember

IMAGES = (ArchiveMember("val/", "atrw/images/val/"),)


def _tar_with(tmp_path, *infos: tuple[tarfile.TarInfo, bytes]):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        good = tarfile.TarInfo("val/0001.jpg")
        good.size = 3
        tf.addfile(good, io.BytesIO(b"abc"))
        for info, data in infos:
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    path = tmp_path / "dl" / "bad.tar"
    path.parent.mkdir()
    path.write_bytes(buf.getvalue())
    return path


def _member(name, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    "info",
    [
        _member("../evil.txt"),
        _member("val/../../evil.txt"),
        _member("/tmp/evil-absolute.txt"),
        _member("val/link", tarfile.SYMTYPE, "../../evil.txt"),
        _member("val/abs-link", tarfile.SYMTYPE, "/etc/passwd"),
        _member("val/hard", tarfile.LNKTYPE, "../outside"),
        _member("val/dev", tarfile.CHRTYPE),
        _member("val/fifo", tarfile.FIFOTYPE),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-abs", "hardlink-out", "device", "fifo"],
)
def test_unsafe_tar_is_refused_and_nothing_is_written(tmp_path, info):
    archive = _tar_with(tmp_path, (info, b"" if info.type in (tarfile.SYMTYPE, tarfile.LNKTYPE) else b"x"))
    root = tmp_path / "data"
    with pytest.raises(UnsafeArchiveError, match="nothing was extracted") as err:
        extract.extract(archive, "tar", IMAGES, root, progress=False)
    assert info.name in str(err.value)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()
    assert not (root / "atrw").exists()
    assert not (root / ".staging").exists() or not list((root / ".staging").iterdir())


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "val\\..\\..\\evil.txt"])
def test_unsafe_zip_is_refused(tmp_path, name):
    archive = tmp_path / "bad.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("val/0001.jpg", b"abc")
        zf.writestr(zipfile.ZipInfo(name), b"x")
    archive.write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchiveError):
        extract.extract(archive, "zip", IMAGES, tmp_path / "data", progress=False)
    assert not (tmp_path / "data" / "atrw").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_zip_symlink_is_refused(tmp_path):
    info = zipfile.ZipInfo("val/link")
    info.external_attr = 0o120777 << 16
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    (tmp_path / "l.zip").write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchiveError, match="link"):
        extract.extract(tmp_path / "l.zip", "zip", IMAGES, tmp_path / "data", progress=False)


def test_folder_member_under_one_top_folder_is_published_whole(tmp_path):
    archive = tmp_path / "a.tar.gz"
    files = {"pose/val/1.jpg": b"1", "pose/val/sub/2.jpg": b"22", "pose/train/3.jpg": b"3"}
    archive.write_bytes(tar_bytes(files, gz=True))
    root = tmp_path / "data"
    assert extract.extract(archive, "tar", IMAGES, root, progress=False) == ["atrw/images/val/"]
    got = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert got == ["atrw/images/val/1.jpg", "atrw/images/val/sub/2.jpg"]
    assert not list((root / ".staging").iterdir())


def test_missing_member_names_the_top_level(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(zip_bytes({"images/1.jpg": b"1", "readme.txt": b"r"}))
    with pytest.raises(DataError, match=r"no folder 'val/'.*images/, readme.txt"):
        extract.extract(archive, "zip", IMAGES, tmp_path / "data", progress=False)
    assert not (tmp_path / "data" / "atrw").exists()


def test_not_an_archive_is_a_clear_error(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"<html>not a zip</html>")
    with pytest.raises(DataError, match="not a readable zip archive"):
        extract.extract(tmp_path / "x.zip", "zip", IMAGES, tmp_path / "data", progress=False)


def test_too_little_disk_space_is_refused_before_writing(tmp_path, monkeypatch):
    archive = tmp_path / "a.tar"
    archive.write_bytes(tar_bytes({"val/1.jpg": b"1" * 1000}))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(extract.shutil, "disk_usage", lambda _: usage(10**9, 10**9, 1000))
    with pytest.raises(InsufficientSpaceError, match=r"needs 1,000 bytes .* only 1,000 bytes are free"):
        extract.extract(archive, "tar", IMAGES, tmp_path / "data", progress=False)
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.jpg"))
