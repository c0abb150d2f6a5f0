"""`data check`: does a data root (fetched, or made by hand) hold what the documented rows read?

Per split of a dataset: every path the rows need (PROTOCOLS.md §5 layout); the annotation file's structure
(images / annotations / categories lists, keypoint count = the registry's schema, unique image and annotation ids,
annotations pointing at listed images, 3*K keypoint values; every value a metric reads, by the scorers' rule,
harness.metrics.ground_truth); every referenced image present and a sample decodable;
the detection file's structure (a list; image ids among the annotation's, category 1, finite scores, 4 finite box
values); the files an evaluator reads beside the annotation file (PCKh's .mat), read and checked by its scorer.
Every problem is collected, not only the first. A clean check then hashes every file the splits read, images
included, and pins the data lock on first use or compares with it, naming any file that changed (harness.data.pins:
`repin=True` re-pins after an intended change, `full=True` re-reads files the stat cache vouches for). The check
holds the data root's lock (harness.data.sources.data_root_locked).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from harness.data import digests, lock, pins
from harness.data.annotations import read_json
from harness.data.layout import missing_paths
from harness.data.loaders import COCO_SHAPED, read_tables
from harness.data.sources import data_root_locked
from harness.errors import DataError
from harness.metrics.ground_truth import check_ground_truth
from zoo.registry.schema import Dataset, Registry

#: How many problems of one kind are spelled out before "... and N more".
SHOWN = 5


@dataclass
class SplitReport:
    split: str
    counts: dict[str, int] = field(default_factory=dict)
    digest: str | None = None  # of every file the split reads, once they are hashed (digests.split_digest)


@dataclass
class CheckReport:
    dataset: str
    splits: list[SplitReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what could not be recorded (a read-only data root)
    state: str = ""  # against the lock: "matches", "pinned" (by this check) or "not pinned" (harness.data.pins)
    files: int = 0  # files hashed or vouched for by the stat cache
    read: int = 0  # of those, read in full

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def pinned(self) -> bool:
        return self.state == "pinned"


class _Problems:
    """Problems by kind; at most SHOWN examples of one kind, then a count."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.kinds: dict[str, list[str]] = {}

    def add(self, kind: str, example: str = "") -> None:
        self.kinds.setdefault(kind, []).append(example)

    def lines(self) -> list[str]:
        out = []
        for kind, examples in self.kinds.items():
            shown = [e for e in examples if e][:SHOWN]
            more = len(examples) - len(shown) if shown else 0
            detail = f" ({', '.join(shown)}{f' and {more} more' if more > 0 else ''})" if shown else ""
            count = f"{len(examples)} " if len(examples) > 1 else ""
            out.append(f"{self.where}: {count}{kind}{detail}")
        return out


def check_dataset(
    dataset: Dataset,
    root: Path,
    *,
    registry: Registry,
    samples: int = 3,
    repin: bool = False,
    full: bool = False,
    archives: dict[str, lock.ArchiveRecord] | None = None,
) -> CheckReport:
    """Check every split of `dataset` under `root`; see the module docstring. Never raises for bad data.
    `archives`: what a fetch verified and extracted, pinned with the files when the check passes."""
    with data_root_locked(root):
        report = CheckReport(dataset.key)
        split_files = _check_splits(dataset, root, registry, samples, report)
        if report.problems:
            return report
        outcome = pins.compare_or_pin(root, dataset.key, split_files, repin=repin, full=full, archives=archives)
    report.problems += outcome.problems
    report.warnings += outcome.warnings
    report.state, report.files, report.read = outcome.state, outcome.files, outcome.read
    for rep in report.splits:
        rep.digest = outcome.digests.get(rep.split)
    return report


def _check_splits(dataset: Dataset, root: Path, registry: Registry, samples: int, report: CheckReport) -> dict:
    """The structure of every split; {split: rel paths of every file it reads} (complete when no problem)."""
    k = registry.schemas[dataset.keypoint_schema].num_keypoints
    split_files: dict[str, list[str]] = {}
    for name, split in dataset.splits.items():
        rep = SplitReport(name)
        report.splits.append(rep)
        missing = missing_paths(split, root)
        if missing:
            report.problems += [f"split {name}: {m}" for m in missing]
            continue
        before = len(report.problems)
        ann_file, img_dir = root / split.ann_file, root / split.img_dir
        try:
            if dataset.annotations in COCO_SHAPED:
                gt = read_json(ann_file, what="annotation file")
            else:  # read into the same tables by its format's reader, which checks every record it reads
                schema = registry.schemas[dataset.keypoint_schema]
                gt = read_tables(dataset.annotations, ann_file, schema=schema, evaluator=None)
        except DataError as exc:
            report.problems.append(f"split {name}: {exc}")
            continue
        coco = dataset.annotations in COCO_SHAPED
        names = _check_annotations(gt, ann_file, k if coco else None, rep, report.problems)
        if names is not None:
            _check_images(names, img_dir, samples, rep, report.problems, ann_file)
        if split.bbox_file:
            _check_detections(root / split.bbox_file, {i.get("id") for i in gt.get("images", [])}, rep, report.problems)
        sides = _check_side_files(dataset, name, registry, ann_file, gt, report.problems) if names is not None else []
        if len(report.problems) == before and names is not None:
            rels = [split.ann_file, *([split.bbox_file] if split.bbox_file else []), *sides]
            split_files[name] = rels + [digests.layout_key(split.img_dir, n) for n in names]
    return split_files


def _check_side_files(
    dataset: Dataset, split: str, registry: Registry, ann_file: Path, gt: Any, problems: list[str]
) -> list[str]:
    """The files beside the annotation file that the split's rows' evaluators read (PCKh's .mat: the evaluator
    record's side_files), each read and checked by its scorer against the annotation tables, as a run reads it; their
    rel paths, to be hashed and pinned with the split."""
    from harness.metrics.evaluators import read_truth

    evaluators = {
        r.protocol.evaluator
        for e in registry.entries.values()
        for r in e.results
        if r.dataset == dataset.key and r.split == split and r.protocol.evaluator.side_files
    }
    folder = PurePosixPath(dataset.splits[split].ann_file).parent
    schema = registry.schemas[dataset.keypoint_schema]
    for ev in sorted(evaluators, key=repr):
        try:
            read_truth(ev, ann_file=ann_file, gt=gt, schema=schema)
        except DataError as exc:
            problems.append(f"split {split}: {exc}")
    return sorted({str(folder / name) for ev in evaluators for name in ev.side_files})


def _check_annotations(
    gt: Any, ann_file: Path, k: int | None, rep: SplitReport, problems: list[str]
) -> list[str] | None:
    """Structure problems of a COCO-style file; the image file names in file order, or None when unusable. k None:
    tables a format's reader built (MPII's), whose keypoints are not scored from this file (PCKh reads its .mat):
    ids, images and links are checked, categories and keypoints are not."""
    p = _Problems(str(ann_file))
    if not isinstance(gt, dict):
        problems.append(f"{ann_file}: not a COCO-style annotation file (the top level is not an object)")
        return None
    lists = {key: gt.get(key) for key in ("images", "annotations", "categories")}
    for key, value in lists.items():
        if not isinstance(value, list):
            p.add(f"no '{key}' list at the top level")
    if not isinstance(lists["images"], list) or not isinstance(lists["annotations"], list):
        problems += p.lines()
        return None
    cats = lists["categories"] if isinstance(lists["categories"], list) and k is not None else []
    with_kp = [c for c in cats if isinstance(c, dict) and isinstance(c.get("keypoints"), list)]
    if isinstance(lists["categories"], list) and not with_kp and k is not None:
        p.add("no category lists its 'keypoints'")
    for c in with_kp:
        if len(c["keypoints"]) != k:
            p.add(f"category {c.get('id')} has {len(c['keypoints'])} keypoints, the dataset's schema {k}")
    ids, names = set(), []
    for i, img in enumerate(lists["images"]):
        if not isinstance(img, dict) or "id" not in img or not isinstance(img.get("file_name"), str):
            p.add("images without 'id' or 'file_name'", f"images[{i}]")
            continue
        if img["id"] in ids:
            p.add("duplicate image ids", str(img["id"]))
        ids.add(img["id"])
        name = img["file_name"]
        if name.startswith("/") or ".." in PurePosixPath(name).parts:
            p.add("image file names leaving the image folder", repr(name))
            continue
        names.append(name)
    ann_ids, labelled = set(), 0
    for i, ann in enumerate(lists["annotations"]):
        if not isinstance(ann, dict) or "id" not in ann or "image_id" not in ann:
            p.add("annotations without 'id' or 'image_id'", f"annotations[{i}]")
            continue
        if ann["id"] in ann_ids:
            p.add("duplicate annotation ids", str(ann["id"]))
        ann_ids.add(ann["id"])
        if ann["image_id"] not in ids:
            p.add("annotations of an image id not under 'images'", f"annotations[{i}] -> {ann['image_id']}")
        kps = ann.get("keypoints")
        if k is None:
            continue
        if not isinstance(kps, list) or len(kps) != 3 * k or not all(_finite(v) for v in kps):
            p.add(f"annotations without 3 * {k} finite keypoint values", f"id {ann['id']}")
        elif any(v > 0 for v in kps[2::3]):
            labelled += 1
    rep.counts.update(images=len(ids), annotations=len(ann_ids), labelled_instances=labelled)
    problems += p.lines()
    if p.kinds:
        return None
    if k is None:
        return names
    try:  # the values every metric reads, by the rule the scorers apply (a NaN area, a crowd flag of "no")
        check_ground_truth(gt, num_keypoints=k, source=str(ann_file))
    except DataError as exc:
        problems.append(str(exc))  # still a problem, so nothing is pinned; the images are checked all the same
    return names


def _check_images(names: list[str], img_dir: Path, samples: int, rep: SplitReport, problems, ann_file) -> None:
    from harness.data.images import read_image

    p = _Problems(f"{img_dir} (images of {ann_file.name})")
    for name in names:
        if not (img_dir / name).is_file():
            p.add("referenced images missing", name)
    problems += p.lines()
    if p.kinds or not names:
        return
    picks = sorted({0, len(names) // 2, len(names) - 1})[: max(samples, 1)]  # first, middle, last
    for i in picks:
        try:
            read_image(img_dir / names[i])
        except DataError as exc:
            problems.append(f"sample image does not decode: {exc}")
    rep.counts["images_decoded"] = len(picks)


def _check_detections(path: Path, image_ids: set, rep: SplitReport, problems: list[str]) -> None:
    try:
        dets = read_json(path, what="detection box file")
    except DataError as exc:
        problems.append(str(exc))
        return
    p = _Problems(str(path))
    if not isinstance(dets, list):
        problems.append(f"{path}: not a list of detections (COCO results format: image_id, category_id, bbox, score)")
        return
    for i, d in enumerate(dets):
        if not isinstance(d, dict):
            p.add("entries that are not objects", f"[{i}]")
            continue
        if d.get("image_id") not in image_ids:
            p.add("detections of an image id not in the annotation file", f"[{i}] -> {d.get('image_id')}")
        if d.get("category_id") != 1:
            p.add("detections with category_id other than 1 (person)", f"[{i}] -> {d.get('category_id')}")
        if not _finite(d.get("score")):
            p.add("detections without a finite score", f"[{i}]")
        box = d.get("bbox")
        if not isinstance(box, list) or len(box) != 4 or not all(_finite(v) for v in box) or min(box[2:]) < 0:
            p.add("detections without 4 finite box values (x, y, w >= 0, h >= 0)", f"[{i}]")
    covered = {d.get("image_id") for d in dets if isinstance(d, dict)}
    rep.counts.update(detections=len(dets), images_with_detections=len(covered))
    problems += p.lines()


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
