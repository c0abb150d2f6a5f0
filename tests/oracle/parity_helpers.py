"""Helpers of the evaluation parity tests (tests/oracle/test_eval_parity*.py): run `python -m harness evaluate` and
oracle/evaluate.py on the same data and checkpoint, read both outputs, and compare them.

Both sides are compared on what each writes: ours predictions.json + metrics.json, the oracle's
result_keypoints.json (MMPose's own writer) + raw.json (its pre-scoring outputs) + metrics.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
#: Our metric names -> the names MMPose 0.29's dataset.evaluate reports (PROTOCOLS.md §5).
COCO_METRIC_NAMES = {"AP": "AP", "AP50": "AP .5", "AP75": "AP .75", "AR": "AR", "AR50": "AR .5"}
#: Wall-clock limit of one `python -m harness evaluate` run on the shared 2-core machine.
TIMEOUT_HARNESS = 1800.0


# ---------------------------------------------------------------------------------------------------------------
# running both sides


def run_harness_evaluate(
    entry: str,
    *,
    checkpoint: Path,
    ann_file: Path,
    img_dir: Path,
    out: Path,
    bbox_file: Path | None = None,
    scales: Sequence[float] | None = None,
    niceness: int = 10,
) -> tuple[list[dict], dict]:
    """`python -m harness evaluate ENTRY --protocol mmpose-0.29 --device cpu` in a subprocess (the CLI is what is
    under test); returns (predictions.json, metrics.json)."""
    cmd = [sys.executable, "-m", "harness", "evaluate", entry, "--checkpoint", str(checkpoint)]
    cmd += ["--ann-file", str(ann_file), "--img-dir", str(img_dir), "--protocol", "mmpose-0.29"]
    cmd += ["--out", str(out), "--device", "cpu", "--no-progress"]
    if bbox_file is not None:
        cmd += ["--bbox-file", str(bbox_file)]
    if scales is not None:
        cmd += ["--scales", ",".join(str(s) for s in scales)]
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_HARNESS,
        preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
    )
    if proc.returncode != 0:
        tail = proc.stderr[-4000:]
        raise AssertionError(f"harness evaluate failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return json.loads((out / "predictions.json").read_text()), json.loads((out / "metrics.json").read_text())


@dataclass(frozen=True)
class OracleOutput:
    results: list[dict]  # result_keypoints.json
    raw: dict  # raw.json
    metrics: dict  # metrics.json ("values" holds what dataset.evaluate returned)


def run_oracle_evaluate(
    oracle,
    config: str,
    *,
    checkpoint: Path,
    ann_file: Path,
    img_dir: Path,
    out: Path,
    bbox_file: Path | None = None,
    scales: Sequence[float] | None = None,
    timeout: float = 1800.0,
    extra: Sequence[str] = (),
) -> OracleOutput:
    """oracle/evaluate.py (MMPose 0.29's test dataset + single_gpu_test + dataset.evaluate) on the same data."""
    args: list[object] = ["--config", config, "--checkpoint", checkpoint, "--ann-file", ann_file]
    args += ["--img-prefix", img_dir, "--out", out]
    if bbox_file is not None:
        args += ["--bbox-file", bbox_file]
    if scales is not None:
        args += ["--test-scale-factor", ",".join(str(s) for s in scales)]
    oracle.run("evaluate", *args, *extra, timeout=timeout)
    return OracleOutput(
        results=json.loads((out / "result_keypoints.json").read_text()),
        raw=json.loads((out / "raw.json").read_text()),
        metrics=json.loads((out / "metrics.json").read_text()),
    )


# ---------------------------------------------------------------------------------------------------------------
# top-down comparison


def attach_bbox_ids(oracle: OracleOutput, ann_file: Path) -> list[dict]:
    """The oracle's results with the bbox_id of the raw record each came from.

    MMPose's COCO writer drops bbox_id; a kept result is the raw record of the same image with bit-identical
    keypoints (both are the same float32 values, written as Python floats), so the id is recovered exactly.
    Results that already carry bbox_id (Horse-10's writer keeps it) are returned unchanged.
    """
    ann = json.loads(Path(ann_file).read_text())
    name2id = {img["file_name"]: img["id"] for img in ann["images"]}
    by_image: dict[int, list[dict]] = {}
    for rec in oracle.raw["instances"]:
        by_image.setdefault(name2id[Path(rec["image_file"]).name], []).append(rec)
    out = []
    for res in oracle.results:
        if "bbox_id" in res:
            out.append(res)
            continue
        flat = np.asarray(res["keypoints"], dtype=np.float64)
        hits = [
            r
            for r in by_image.get(res["image_id"], [])
            if np.array_equal(np.asarray(r["keypoints"], dtype=np.float64).reshape(-1), flat)
        ]
        if len(hits) > 1:
            # Duplicate detector boxes (same box, different detector scores) give bit-identical crops; the instance
            # score (keypoint mean over maxvals > vis_thr 0.2, times the box score, PROTOCOLS.md §3) tells them apart.
            hits = sorted(hits, key=lambda r: abs(_rescored(r, vis_thr=0.2) - res["score"]))[:1]
        if not hits:
            raise AssertionError(f"oracle result of image {res['image_id']} matches no raw record")
        out.append({**res, "bbox_id": hits[0]["bbox_id"]})
    return out


def _rescored(record: dict, *, vis_thr: float) -> float:
    v = np.asarray(record["keypoints"], dtype=np.float64)[:, 2]
    kept = v[v > vis_thr]
    return float(kept.mean() if kept.size else 0.0) * float(record["score"])


@dataclass
class TopdownComparison:
    """Ours vs the oracle, matched by (image_id, bbox_id)."""

    only_ours: list[tuple[int, int]] = field(default_factory=list)
    only_oracle: list[tuple[int, int]] = field(default_factory=list)
    order_differs: list[int] = field(default_factory=list)  # image ids whose result order differs
    max_keypoint_px: float = 0.0
    max_keypoint_score_rel: float = 0.0
    max_score_rel: float = 0.0
    max_center_scale_rel: float = 0.0
    matched: int = 0

    def summary(self) -> str:
        return (
            f"matched {self.matched}, only ours {self.only_ours[:5]}, only oracle {self.only_oracle[:5]}, order "
            f"differs in images {self.order_differs[:5]}, max |dxy| {self.max_keypoint_px:.3g} px, max rel keypoint "
            f"score {self.max_keypoint_score_rel:.3g}, max rel score {self.max_score_rel:.3g}, max rel center/scale "
            f"{self.max_center_scale_rel:.3g}"
        )


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


def compare_topdown(ours: list[dict], theirs: list[dict], *, num_keypoints: int) -> TopdownComparison:
    """Same set of (image_id, bbox_id) after NMS, same order within each image, and per matched instance the largest
    keypoint distance (px), keypoint-maxval difference relative to the instance's largest |maxval|, relative
    instance-score difference, and relative center/scale difference."""
    cmp = TopdownComparison()
    key = lambda r: (int(r["image_id"]), int(r["bbox_id"]))  # noqa: E731
    mine, ref = {key(r): r for r in ours}, {key(r): r for r in theirs}
    cmp.only_ours = sorted(set(mine) - set(ref))
    cmp.only_oracle = sorted(set(ref) - set(mine))
    for img in sorted({k[0] for k in ref}):
        a = [key(r)[1] for r in ours if int(r["image_id"]) == img]
        b = [key(r)[1] for r in theirs if int(r["image_id"]) == img]
        if a != b:
            cmp.order_differs.append(img)
    for k in sorted(set(mine) & set(ref)):
        a, b = mine[k], ref[k]
        ka = np.asarray(a["keypoints"], dtype=np.float64).reshape(num_keypoints, 3)
        kb = np.asarray(b["keypoints"], dtype=np.float64).reshape(num_keypoints, 3)
        cmp.max_keypoint_px = max(cmp.max_keypoint_px, float(np.abs(ka[:, :2] - kb[:, :2]).max()))
        # Relative to the instance's largest |maxval| (the heatmap's scale), as the forward parity test measures.
        scale = max(float(np.abs(kb[:, 2]).max()), 1e-12)
        cmp.max_keypoint_score_rel = max(cmp.max_keypoint_score_rel, float(np.abs(ka[:, 2] - kb[:, 2]).max()) / scale)
        cmp.max_score_rel = max(cmp.max_score_rel, _rel([a["score"]], [b["score"]]))
        cs_a = np.concatenate([a["center"], a["scale"]])
        cs_b = np.concatenate([b["center"], b["scale"]])
        cmp.max_center_scale_rel = max(cmp.max_center_scale_rel, _rel(cs_a, cs_b))
        cmp.matched += 1
    return cmp


def metric_differences(
    ours: Mapping[str, float], oracle_values: Mapping[str, float], names: Mapping[str, str], *, tol: float = 1e-9
) -> dict[str, tuple]:
    """{our name: (ours, oracle)} for every metric in `names` (ours -> oracle's) whose values differ by more than
    tol, or that either side lacks."""
    diffs = {}
    for mine, theirs in names.items():
        a, b = ours.get(mine), oracle_values.get(theirs)
        if a is None or b is None or abs(float(a) - float(b)) > tol:
            diffs[mine] = (a, b)
    return diffs


# ---------------------------------------------------------------------------------------------------------------
# bottom-up: few-people random weights, subsets, matching


def subset_annotations(ann_file: Path, image_ids: Sequence[int], out: Path) -> Path:
    """A copy of a COCO-style annotation file restricted to some images (both sides then evaluate only those)."""
    ann = json.loads(Path(ann_file).read_text())
    keep = set(image_ids)
    ann["images"] = [img for img in ann["images"] if img["id"] in keep]
    ann["annotations"] = [a for a in ann.get("annotations", []) if a["image_id"] in keep]
    out.write_text(json.dumps(ann))
    return out


def sparsify_bottomup_checkpoint(
    checkpoint: Path,
    out: Path,
    *,
    entry: str,
    ann_file: Path,
    img_dir: Path,
    scales: Sequence[float] = (1.0,),
    peaks_per_joint: int = 2,
    threshold: float = 0.1,
) -> dict:
    """Shift the heatmap channels' final bias of a random bottom-up checkpoint so that at most `peaks_per_joint`
    NMS peaks per joint and image (over the file's images, at this protocol's scales, with flip) exceed the detection
    threshold; the tag channels are untouched; flip partners share one shift. Saved in MMPose format
    ({'state_dict', 'meta'}).

    Why: random weights put hundreds of candidates above 0.1 and MMPose's refine then dominates the oracle's run
    time (docs/PARITY.md). A bias shift moves the aggregated heatmap by exactly that amount (the aggregation: bilinear
    resizes, flip, averages over stages and scales, is linear with weights summing to one), so the NMS peaks stay
    where they are. The new threshold sits halfway between two peak values, so that no peak lies within float
    rounding of it on either side. HigherHRNet's stage-1 heatmaps also feed its deconvolution, so only the last
    stage's bias moves, by delta * number of stages.
    Returns {'delta': per-joint shifts, 'candidates': per-image number of peaks above the threshold after}.
    """
    import torch

    from harness.bottomup.inference import aggregate_image
    from harness.checkpoints.safe_load import load_checkpoint
    from harness.data.images import read_image
    from harness.models.entry import build_from_entry, resolve_entry
    from harness.protocols import run_protocol
    from zoo import load_registry

    registry = load_registry()
    ent = resolve_entry(entry, registry=registry)
    schema = registry.schemas[ent.architecture.keypoint_schema]
    protocol = replace(run_protocol(ent.results[0], "mmpose-0.29"), scales=tuple(float(s) for s in scales))
    run = {"protocol": protocol, "schema": schema, "input_size": ent.architecture.input_size[0]}
    model = build_from_entry(ent, checkpoint=checkpoint, registry=registry)
    peaks = []  # per image: [K] lists of NMS peak values, descending
    for img in json.loads(Path(ann_file).read_text())["images"]:
        hm = aggregate_image(model, read_image(img_dir / img["file_name"]), **run)[0][0]  # [K, H, W]
        pooled = torch.nn.functional.max_pool2d(hm[None], protocol.nms_kernel, 1, protocol.nms_kernel // 2)[0]
        peaks.append([np.sort(c[c == p].double().numpy())[::-1] for c, p in zip(hm, pooled, strict=True)])
    k = schema.num_keypoints
    cut = np.zeros(k)
    for j in range(k):
        # The flip test averages joint j with the mirrored map of its flip partner (PROTOCOLS.md §4), so the
        # aggregated map of j moves by the MEAN of both shifts: a pair gets one common cut, from both joints' peaks.
        # The largest (n+1)-th peak over the images, then halfway to the next larger peak value of any image.
        pair = {j, schema.flip_index[j]} if protocol.flip else {j}
        n = peaks_per_joint
        base = max(float(p[i][n]) if len(p[i]) > n else -np.inf for p in peaks for i in pair)
        above = np.concatenate([p[i][p[i] > base] for p in peaks for i in pair])
        if not np.isfinite(base):  # no image has more peaks than allowed: keep them all
            cut[j] = above.min() - 1.0 if above.size else 0.0
        elif above.size:
            cut[j] = (base + above.min()) / 2
        else:  # every peak ties with base: keep none
            cut[j] = base + 1.0
    delta = threshold - cut
    loaded = load_checkpoint(checkpoint)
    sd = {name: t.clone() for name, t in loaded.state_dict.items()}
    stages = len(ent.architecture.heatmap_sizes)
    last = f"keypoint_head.final_layers.{stages - 1}.bias" if stages > 1 else "keypoint_head.final_layer.bias"
    sd[last][:k] += torch.as_tensor(delta * stages, dtype=sd[last].dtype)
    meta = {str(a): b for a, b in loaded.meta.items() if isinstance(b, (str, int, float))}
    meta["hrnet_zoo_sparsified"] = f"heatmap bias shifted: <= {peaks_per_joint} peaks per joint above {threshold}"
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": sd, "meta": meta}, out)
    counts = [int(sum((p[j] > cut[j]).sum() for j in range(k))) for p in peaks]
    return {"delta": delta.tolist(), "candidates": counts}


@dataclass
class BottomupComparison:
    """Ours vs the oracle per image: persons paired one to one (Hungarian on mean keypoint distance)."""

    oracle_keypoints: int = 0
    our_keypoints: int = 0
    matched_keypoints: int = 0  # in paired persons, within `px` in x and y distance
    oracle_persons: int = 0
    our_persons: int = 0
    paired_persons: int = 0
    max_score_diff: float = 0.0
    max_paired_px: float = 0.0
    per_image: dict = field(default_factory=dict)

    @property
    def oracle_matched_fraction(self) -> float:
        return self.matched_keypoints / max(self.oracle_keypoints, 1)

    @property
    def ours_matched_fraction(self) -> float:
        return self.matched_keypoints / max(self.our_keypoints, 1)

    def summary(self) -> str:
        return (
            f"persons oracle {self.oracle_persons} ours {self.our_persons} paired {self.paired_persons}; keypoints "
            f"matched {self.matched_keypoints} of oracle {self.oracle_keypoints} ({self.oracle_matched_fraction:.4%})"
            f" / ours {self.our_keypoints} ({self.ours_matched_fraction:.4%}); max paired |dxy| "
            f"{self.max_paired_px:.3g} px; max |dscore| {self.max_score_diff:.3g}; per image {self.per_image}"
        )


def compare_bottomup(ours: list[dict], theirs: list[dict], *, num_keypoints: int, px: float = 0.5):
    """Pair persons per image (Hungarian on mean keypoint distance); a keypoint is matched when both persons of a
    pair have it within `px` (Euclidean). Every joint of every person counts (missing joints sit at the canvas
    corner on both sides, PROTOCOLS.md §4 step 7); persons left unpaired count as unmatched keypoints."""
    from scipy.optimize import linear_sum_assignment

    cmp = BottomupComparison()
    k = num_keypoints
    images = sorted({int(r["image_id"]) for r in ours} | {int(r["image_id"]) for r in theirs})
    for img in images:
        a = [r for r in ours if int(r["image_id"]) == img]
        b = [r for r in theirs if int(r["image_id"]) == img]
        ka = np.asarray([r["keypoints"] for r in a], dtype=np.float64).reshape(len(a), k, 3)
        kb = np.asarray([r["keypoints"] for r in b], dtype=np.float64).reshape(len(b), k, 3)
        cmp.our_persons += len(a)
        cmp.oracle_persons += len(b)
        cmp.our_keypoints += len(a) * k
        cmp.oracle_keypoints += len(b) * k
        matched = 0
        if len(a) and len(b):
            dist = np.linalg.norm(ka[:, None, :, :2] - kb[None, :, :, :2], axis=-1)  # [A, B, K]
            rows, cols = linear_sum_assignment(dist.mean(axis=-1))
            for i, j in zip(rows, cols, strict=True):
                d = dist[i, j]
                if not (d <= px).any():
                    continue  # not the same person at all
                cmp.paired_persons += 1
                matched += int((d <= px).sum())
                cmp.max_paired_px = max(cmp.max_paired_px, float(d[d <= px].max()))
                cmp.max_score_diff = max(cmp.max_score_diff, abs(float(a[i]["score"]) - float(b[j]["score"])))
        cmp.matched_keypoints += matched
        cmp.per_image[img] = (len(b), len(a), matched)
    return cmp
