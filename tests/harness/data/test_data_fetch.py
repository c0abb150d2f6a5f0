"""`data fetch` end to end against 127.0.0.1 (issue 15): mini archives of every dataset in its real layout are
fetched, laid out, checked and evaluated; a cut-off download resumes; 404, an HTML page, a wrong size or hash
publish nothing; offline names URL and destination; the terms gate; `reproduce` prints the fetch command."""

from __future__ import annotations

import shutil

import pytest

from harness.cli import main
from harness.data import lock
from tests.harness.data.minidata import tar_bytes
from zoo import load_registry

#: One top-down row per dataset, evaluated on the fetched layout with the GT stand-in model.
ROWS = {
    "aic": "hrnet_w32_aic_256x192/gt-bbox",
    "coco": "hrnet_w32_coco_256x192_coarsedropout/det-ap56",
    "horse10": "hrnet_w32_horse10_256x256_split1/split1",
    "macaque": "hrnet_w32_macaque_256x192/gt-bbox",
    "atrw": "hrnet_w32_atrw_256x256/gt-bbox",
}


def _fetch(env, *datasets: str, extra=()) -> int:
    return main(["data", "fetch", *datasets, "--data-root", str(env.root), "--no-progress", *extra])


def _evaluate_with_standin(row_id: str, root, tmp):
    """The row's protocol on the fetched layout, with the GT stand-in (a perfect model) in place of weights."""
    from harness.engine import run_evaluation
    from harness.spec import DataPaths, build_spec
    from tests.helpers.standin import GTHeatmapStandIn

    registry = load_registry()
    result = registry.row(row_id)
    entry = registry.entry(result.entry_id)
    split = registry.datasets[result.dataset].splits[result.split]
    bbox = root / split.bbox_file if split.bbox_file else None
    data = DataPaths(root / split.ann_file, root / split.img_dir, bbox, reference_layout=True, root=root)
    spec = build_spec(registry, result, data=data, checkpoint=tmp / "no-checkpoint-file", device="cpu")
    k = registry.schemas[entry.architecture.keypoint_schema].num_keypoints
    model = GTHeatmapStandIn(k)
    return run_evaluation(
        spec, registry=registry, out_dir=tmp / "run", progress=False, model_factory=lambda: model, model_label="GT"
    )


@pytest.mark.parametrize("dataset", list(ROWS))
def test_fetch_check_evaluate_every_dataset(data_env, dataset, capsys):
    env = data_env
    rc = _fetch(env, dataset, extra=["--accept-terms"])
    err = capsys.readouterr().err
    manual = env.mini.manual.get(dataset)
    if manual:  # a fresh root: everything downloadable is fetched, the manual steps are printed, exit 2
        assert rc == 2, err
        for name in manual:
            assert name in err
        env.mini.place_manual(env.root, dataset)
        rc = _fetch(env, dataset, extra=["--accept-terms"])
        err = capsys.readouterr().err
    assert rc == 0, err
    assert main(["data", "check", dataset, "--data-root", str(env.root)]) == 0
    out = capsys.readouterr().out
    assert f"ok: {dataset}" in out and "matches the data lock" in out
    entry = lock.dataset_lock(env.root, dataset)
    ds = load_registry().datasets[dataset]
    assert set(entry.archives) == {s.name for s in ds.sources if s.format != "file"}
    assert set(entry.splits) == set(ds.splits)
    for split in ds.splits.values():
        assert split.ann_file in entry.files
        images = [f for f in entry.files if f.startswith(split.img_dir)]
        assert images and all(len(entry.files[f].sha256) == 64 for f in images)  # every image's content is pinned
    assert not (env.root / ".staging").exists() or not list((env.root / ".staging").iterdir())
    outcome = _evaluate_with_standin(ROWS[dataset], env.root, env.tmp)
    metrics = outcome.record.metrics
    if dataset == "horse10":
        assert metrics["PCK@0.3"] > 0.6
    elif dataset != "coco":  # GT boxes and a perfect model: the fetched annotations and images belong together
        assert metrics["AP"] > 0.6  # the GT stand-in scores 0.83 on the AIC sample, a mislaid one 0
    else:
        assert outcome.record.provenance["counts"]["instances"] == 118  # every detection box of the sample
    data = outcome.record.provenance["data"]  # the run read the pinned bytes: it names the lock's digest
    assert data["differences"] == [] and data["lock_digest"] == entry.splits[data["split"]].digest


def test_only_the_named_member_is_extracted(data_env):
    env = data_env
    env.mini.place_manual(env.root, "coco")
    assert _fetch(env, "coco") == 0
    assert sorted(p.name for p in (env.root / "coco/annotations").iterdir()) == ["person_keypoints_val2017.json"]
    assert (env.root / "downloads/coco/annotations_trainval2017.zip").is_file()  # kept: re-layout works offline


def test_interrupted_download_resumes_in_the_next_run(data_env, capsys):
    env = data_env
    path = "/lila/cvwc2019/train/atrw_pose_val.tar.gz"
    env.server.truncate(path, after=100, times=5)  # more cuts than one run resumes (MAX_RESUMES = 3)
    assert _fetch(env, "atrw") == 1
    assert "cut off" in capsys.readouterr().err
    part = env.root / "downloads/atrw/atrw_pose_val.tar.gz.part"
    assert part.is_file() and not (env.root / "downloads/atrw/atrw_pose_val.tar.gz").exists()
    assert not (env.root / "atrw/images/val").exists()  # nothing half laid out
    assert _fetch(env, "atrw") == 0
    gets = env.server.requests_for(path)
    kept = sum(g.body_bytes for g in gets[:-1])
    assert gets[-1].headers["range"] == f"bytes={kept}-"  # the second run resumed from what the first kept
    assert sum(g.body_bytes for g in gets) == len(env.mini.served[path])  # every byte sent once
    assert (env.root / "atrw/images/val").is_dir() and not part.exists()


@pytest.mark.parametrize("fault", ["404", "html", "size", "hash"])
def test_bad_answers_publish_nothing(data_env, fault, capsys):
    env = data_env
    path = "/openmmlab/datasets/atrw_annotations.tar"
    url = env.server.url(path)
    if fault == "404":
        env.server.fail(path, 404, times=None)
    elif fault == "html":
        env.server.add(path, b"<!DOCTYPE html><html>sign in</html>", headers={"Content-Type": "text/html"})
    else:
        field = "size: 12345" if fault == "size" else f"sha256: '{'a' * 64}'"
        env.rewrite_registry(lambda t: t.replace(f"urls: [{url}]", f"urls: [{url}]\n        {field}"))
    assert _fetch(env, "atrw") == 1
    err = capsys.readouterr().err
    assert {"404": "HTTP 404", "html": "HTML page", "size": "12345", "hash": "a" * 64}[fault] in err
    assert "nothing" in err
    assert not (env.root / "atrw/annotations").exists()
    assert not list((env.root / "downloads/atrw").glob("atrw_annotations.tar*"))


def test_offline_with_an_empty_cache_names_url_and_destination(data_env, monkeypatch, capsys):
    env = data_env
    monkeypatch.setenv("HRNET_ZOO_OFFLINE", "1")
    assert _fetch(env, "atrw") == 1
    err = capsys.readouterr().err
    assert env.server.url("/openmmlab/datasets/atrw_annotations.tar") in err
    assert str(env.root / "downloads/atrw/atrw_annotations.tar") in err
    assert not env.server.requests


def test_terms_gate_needs_the_flag(data_env, capsys):
    env = data_env
    assert _fetch(env, "horse10") == 1
    err = capsys.readouterr().err
    assert "non-commercial" in err and "--accept-terms" in err and "Nothing was downloaded" in err
    assert not env.server.requests and not (env.root / "horse10").exists()


def test_a_changed_archive_is_refused_by_the_pinned_hash(data_env, capsys):
    env = data_env
    assert _fetch(env, "atrw") == 0
    for p in (env.root / "atrw", env.root / "downloads/atrw"):
        shutil.rmtree(p)
    path = "/openmmlab/datasets/atrw_annotations.tar"
    env.server.add(path, tar_bytes({"annotations/keypoint_val.json": b'{"images": []}'}))
    assert _fetch(env, "atrw") == 1
    assert "pinned in the data lock" in capsys.readouterr().err
    assert not (env.root / "atrw/annotations").exists()


def test_reproduce_prints_the_fetch_command_and_manual_steps(data_env, workspace, capsys):
    env = data_env
    rc = main(["reproduce", "--dataset", "coco", "--data-root", str(env.root), "--offline"])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"python -m harness data fetch coco --data-root {env.root}" in err
    assert "COCO_val2017_detections_AP_H_56_person.json from https://github.com/leoxiaobin" in err
    assert "Nothing was run" in err
