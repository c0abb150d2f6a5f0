"""Dataset transfers as a hostile or broken server makes them (issue 22, items 1-2), through the real CLI against
127.0.0.1: every download is bounded (a stream without Content-Length stops at $HRNET_ZOO_MAX_DOWNLOAD_MB; a Hub
mirror whose stated size is too large is never downloaded), a `.part` whose resume is refused (416) or whose file
changed on the server (another ETag) is fetched again from zero, and nothing that failed is published or pinned."""

from __future__ import annotations

import json

from harness.cli import main
from harness.data import lock
from tests.harness.data.minidata import tar_bytes

ANN = "/openmmlab/datasets/atrw_annotations.tar"
IMAGES = "/lila/cvwc2019/train/atrw_pose_val.tar.gz"


def _fetch(env, *extra: str) -> int:
    return main(["data", "fetch", "atrw", "--data-root", str(env.root), "--no-progress", *extra])


def _nothing_published(env, name: str) -> None:
    assert not list((env.root / "downloads/atrw").glob(f"{name}*")), "no file, no .part, no validators"
    assert "atrw" not in lock.read_lock(env.root).datasets, "nothing pinned"


def _other_annotations(env) -> bytes:
    """The ATRW annotation archive with other (valid) content: what the server serves after an update."""
    gt = json.loads((env.mini.samples / "atrw/test_atrw.json").read_text())
    gt["info"] = {"description": "a later release"}
    return tar_bytes({"annotations/keypoint_val.json": json.dumps(gt).encode()})


def test_a_stream_without_length_stops_at_the_bound(data_env, monkeypatch, capsys):
    env = data_env
    monkeypatch.setenv("HRNET_ZOO_MAX_DOWNLOAD_MB", "0.25")
    env.server.add(IMAGES, b"\0" * (4 << 20))  # 4 MiB, streamed without Content-Length: ends when the server stops
    env.server.omit_length(IMAGES)
    assert _fetch(env) == 1
    err = capsys.readouterr().err
    assert "HRNET_ZOO_MAX_DOWNLOAD_MB" in err and "sent more bytes" in err and "nothing was published" in err
    _nothing_published(env, "atrw_pose_val.tar.gz")
    assert not (env.root / "atrw/images").exists()


def test_an_announced_size_above_the_bound_downloads_nothing(data_env, monkeypatch, capsys):
    env = data_env
    monkeypatch.setenv("HRNET_ZOO_MAX_DOWNLOAD_MB", "0.25")
    env.server.add(IMAGES, b"\0" * (4 << 20))
    assert _fetch(env) == 1
    err = capsys.readouterr().err
    assert f"announces {4 << 20} bytes" in err and "nothing was downloaded" in err
    _nothing_published(env, "atrw_pose_val.tar.gz")


def test_a_stale_part_refused_with_416_is_fetched_again_from_zero(data_env, capsys):
    """An older, larger archive left as `.part`; the server answers the resume with 416: it is discarded, never laid
    out (before: `data fetch` exited 0 with the old data and pinned it)."""
    env = data_env
    stale = tar_bytes({"annotations/keypoint_val.json": b'{"old": ' + b"0" * 100_000 + b"}"})
    part = env.root / "downloads/atrw/atrw_annotations.tar.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(stale)
    assert len(stale) > len(env.mini.served[ANN])
    assert _fetch(env) == 0, capsys.readouterr().err
    gets = env.server.requests_for(ANN)
    assert [g.status for g in gets] == [416, 200] and "range" not in gets[1].headers
    served = json.loads(tar_member(env.mini.served[ANN]))
    assert json.loads((env.root / "atrw/annotations/keypoint_val.json").read_text()) == served
    assert lock.dataset_lock(env.root, "atrw").archives["annotations"].size == len(env.mini.served[ANN])


def test_a_part_whose_file_changed_on_the_server_starts_again(data_env, capsys):
    """Cut off, then the server's file changes (another ETag): the resume asks with If-Range, sees the new ETag on a
    206 (a server that ignores If-Range), and starts from zero instead of appending new bytes to old ones."""
    env = data_env
    env.server.add(ANN, env.mini.served[ANN], headers={"ETag": '"v1"'})
    env.server.truncate(ANN, after=2000, times=4)  # more cuts than one run resumes: .part is kept
    assert _fetch(env) == 1
    assert "cut off" in capsys.readouterr().err
    assert (env.root / "downloads/atrw/atrw_annotations.tar.part").is_file()
    new = _other_annotations(env)
    env.server.add(ANN, new, headers={"ETag": '"v2"'})
    assert _fetch(env) == 0, capsys.readouterr().err
    resume, fresh = env.server.requests_for(ANN)[-2:]
    assert resume.headers["if-range"] == '"v1"' and resume.headers["range"] == "bytes=8000-"
    assert "range" not in fresh.headers and fresh.body_bytes == len(new)
    laid_out = json.loads((env.root / "atrw/annotations/keypoint_val.json").read_text())
    assert laid_out["info"] == {"description": "a later release"}
    assert not list((env.root / "downloads/atrw").glob("*.part*"))


def test_a_hub_mirror_above_the_bound_is_refused_before_any_byte(data_env, monkeypatch, capsys):
    """huggingface_hub downloads a Hub mirror; the size the Hub states is checked against the bound first."""
    env = data_env
    hub = env.server.add_hub_file("datasets/lab/mirror", "atrw/atrw_annotations.tar", b"\0" * (4 << 20))
    monkeypatch.setenv("HF_ENDPOINT", env.server.base_url)
    monkeypatch.setenv("HRNET_ZOO_DATA_MIRROR", "hf://datasets/lab/mirror")
    monkeypatch.setenv("HRNET_ZOO_MAX_DOWNLOAD_MB", "1")
    assert _fetch(env, "--prefer-mirror") == 0, capsys.readouterr().err
    assert env.server.requests_for(hub, method="HEAD") and not env.server.requests_for(hub)  # no GET of the body
    assert env.server.requests_for(ANN)  # the primary URL was used instead
    assert lock.dataset_lock(env.root, "atrw").archives["annotations"].source == env.server.url(ANN)


def tar_member(data: bytes, name: str = "annotations/keypoint_val.json") -> bytes:
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return tf.extractfile(name).read()
