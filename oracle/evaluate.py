"""Evaluate an MMPose checkpoint on a COCO-style annotation file exactly as MMPose 0.29 does (inside the oracle venv).

    evaluate.py --config C --checkpoint F --ann-file A --img-prefix DIR [--bbox-file B | --use-gt-bbox]
                [--test-scale-factor 2,1,0.5] [--no-flip] [--udp-adjust-on-copy] [--metric M ...]
                [--batch-size N] --out DIR

Builds the config's test dataset with ann_file/img_prefix (and, for detector-box configs, bbox_file) pointed at the
given data, runs `mmpose.apis.single_gpu_test` with `MMDataParallel` on the CPU (docs/PARITY.md) and writes into
DIR:

- raw.json: MMPose's per-sample outputs before scoring. Top-down: one record per box in dataset order with
  image_file, bbox_id, center (x, y), scale (w, h, /200), area, score and keypoints [K, 3] (x, y, maxval).
  Bottom-up: one record per image with its persons: score and keypoints [K, 3 + L] (x, y, val, tag_1..tag_L).
- result_keypoints.json: written by MMPose's own `dataset.evaluate(..., res_folder=DIR)`.
- metrics.json: the metrics requested, the dict `dataset.evaluate` returned for each, and those that raised
  (PROTOCOLS.md §5: 0.29's Horse-10 'NME' raises TypeError, so for Horse-10 only 'PCK' is requested by default).

Sample-data mapping (tests/data/samples, every file_name there is flat, so img_prefix is the folder itself):
aic/test_aic.json, coco/test_coco.json (+ coco/test_coco_det_AP_H_56.json as --bbox-file for the COCO-aug
configs), horse10/test_horse10.json, macaque/test_macaque.json, atrw/test_atrw.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import _common
import numpy as np


def _parse_scales(text: str) -> list[float]:
    try:
        scales = [float(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 2,1,0.5; got {text!r}") from exc
    if not scales or 1.0 not in scales:
        # PROTOCOLS.md §4: tags are taken from scale 1 only, so MMPose requires it among the test scales.
        raise argparse.ArgumentTypeError(f"the test scales must include 1; got {text!r}")
    return scales


def configure_test_data(cfg, args) -> dict[str, Any]:
    """Point cfg.data.test at the given data and protocol switches; returns what was changed (for raw.json)."""
    ds = cfg.data.test
    ds.ann_file = str(Path(args.ann_file).resolve())
    ds.img_prefix = str(Path(args.img_prefix).resolve()) + "/"
    changed: dict[str, Any] = {"ann_file": ds.ann_file, "img_prefix": ds.img_prefix}
    data_cfg = ds.data_cfg
    if args.bbox_file is not None:
        if "use_gt_bbox" not in data_cfg:
            raise _common.OracleScriptError(f"{args.config} has no detector-box option (use_gt_bbox/bbox_file)")
        data_cfg.use_gt_bbox = False
        data_cfg.bbox_file = str(Path(args.bbox_file).resolve())
        changed["bbox_file"] = data_cfg.bbox_file
    elif args.use_gt_bbox:
        data_cfg.use_gt_bbox = True
    elif data_cfg.get("use_gt_bbox") is False:
        raise _common.OracleScriptError(
            f"{args.config} evaluates on detector boxes: pass --bbox-file (e.g. coco/test_coco_det_AP_H_56.json) "
            "or --use-gt-bbox"
        )
    if "use_gt_bbox" in data_cfg:
        changed["use_gt_bbox"] = bool(data_cfg.use_gt_bbox)
    if args.test_scale_factor is not None:
        # PROTOCOLS.md §2.3: BottomUpGetImgSize is the only place that reads the test scales.
        steps = [s for s in ds.pipeline if s["type"] == "BottomUpGetImgSize"]
        if not steps:
            raise _common.OracleScriptError(f"{args.config} has no BottomUpGetImgSize step: not a bottom-up config")
        for s in steps:
            s["test_scale_factor"] = args.test_scale_factor
        changed["test_scale_factor"] = args.test_scale_factor
    if args.no_flip:
        cfg.model.test_cfg.flip_test = False
    changed["flip_test"] = bool(cfg.model.test_cfg.get("flip_test", True))
    return changed


def adjust_on_copy() -> None:
    """Bottom-up UDP: hand `post_dark_udp` a copy of the aggregated heatmaps, as it gets on a GPU.

    `HeatmapParser.parse` passes a view of the heatmap tensor and `post_dark_udp` blurs, clips and logs
    `tensor.cpu().numpy()` in place. On a GPU `.cpu()` copies, so refine then reads the unchanged heatmaps (how
    the published numbers were made); on the CPU it is the same memory, and refine reads the log maps.
    docs/PARITY.md, "Bottom-up UDP on the CPU".
    """
    import torch
    from mmpose.core.post_processing import group

    original = group.post_dark_udp

    def on_copy(coords, batch_heatmaps, kernel=3):
        if isinstance(batch_heatmaps, torch.Tensor):
            batch_heatmaps = batch_heatmaps.detach().cpu().numpy().copy()
        return original(coords, batch_heatmaps, kernel)

    group.post_dark_udp = on_copy


def topdown_records(outputs: list[dict]) -> list[dict]:
    records = []
    for batch in outputs:
        bbox_ids = batch["bbox_ids"] or [None] * len(batch["image_paths"])
        for i, (path, bbox_id) in enumerate(zip(batch["image_paths"], bbox_ids, strict=True)):
            box = batch["boxes"][i]  # center (2), scale (2), area, score (PROTOCOLS.md §3; float32)
            records.append(
                {
                    "image_file": path,
                    "bbox_id": bbox_id,
                    "center": box[0:2],
                    "scale": box[2:4],
                    "area": box[4],
                    "score": box[5],
                    "keypoints": batch["preds"][i],
                }
            )
    return records


def bottomup_records(outputs: list[dict]) -> list[dict]:
    records = []
    for res in outputs:  # batch size 1: one image per result
        persons = [
            {"score": score, "keypoints": np.asarray(pred)}
            for pred, score in zip(res["preds"], res["scores"], strict=True)
        ]
        records.append({"image_file": res["image_paths"][0], "persons": persons})
    return records


def evaluate_metrics(dataset, outputs: list[dict], out_dir: Path, metrics: list[str]) -> dict[str, Any]:
    """One dataset.evaluate call per metric, so that one that raises (Horse-10 'NME') does not hide the others."""
    values: dict[str, Any] = {}
    failed: dict[str, str] = {}
    for metric in metrics:
        try:
            values.update(dataset.evaluate(outputs, res_folder=str(out_dir), metric=metric))
        except Exception as exc:  # recorded, not raised: the caller decides whether this metric matters
            failed[metric] = f"{type(exc).__name__}: {exc}"
    return {"requested": metrics, "values": values, "failed": failed}


def default_metrics(cfg, dataset) -> list[str]:
    metric = cfg.get("evaluation", {}).get("metric", "mAP")
    metrics = list(metric) if isinstance(metric, (list, tuple)) else [metric]
    if type(dataset).__name__ == "AnimalHorse10Dataset":
        metrics = [m for m in metrics if m != "NME"]  # PROTOCOLS.md §5: raises TypeError in 0.29
    return metrics


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--ann-file", required=True, type=Path)
    ap.add_argument("--img-prefix", required=True, type=Path)
    boxes = ap.add_mutually_exclusive_group()
    boxes.add_argument("--bbox-file", type=Path, help="detections (COCO results format) for detector-box configs")
    boxes.add_argument("--use-gt-bbox", action="store_true", help="force GT boxes on a detector-box config")
    ap.add_argument("--test-scale-factor", type=_parse_scales, help="bottom-up test scales, e.g. 2,1,0.5")
    ap.add_argument("--no-flip", action="store_true", help="set test_cfg.flip_test=False")
    ap.add_argument("--udp-adjust-on-copy", action="store_true", help="bottom-up UDP: GPU semantics (adjust_on_copy)")
    ap.add_argument("--metric", action="append", help="dataset.evaluate metric (repeatable); default: the config's")
    ap.add_argument("--batch-size", type=int, help="default: the config's test_dataloader samples_per_gpu")
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    args = ap.parse_args()

    import torch
    from mmcv.parallel import MMDataParallel
    from mmpose.apis import single_gpu_test
    from mmpose.datasets import build_dataloader, build_dataset

    t0 = time.monotonic()
    if args.udp_adjust_on_copy:
        adjust_on_copy()
    cfg = _common.load_config(args.config)
    changed = configure_test_data(cfg, args)
    dataset = build_dataset(cfg.data.test, dict(test_mode=True))
    bottomup = cfg.model.type == "AssociativeEmbedding"
    batch = 1 if bottomup else (args.batch_size or cfg.data.get("test_dataloader", {}).get("samples_per_gpu", 32))
    loader = build_dataloader(
        dataset,
        samples_per_gpu=batch,
        workers_per_gpu=0,
        dist=False,
        shuffle=False,
        drop_last=False,
        pin_memory=False,
    )
    model = _common.build_model(cfg)
    _common.load_strict(model, args.checkpoint)
    model = MMDataParallel(model)  # PARITY.md "The oracle environment": needed on the CPU to unwrap DataContainer metas
    torch.set_grad_enabled(False)
    outputs = single_gpu_test(model, loader)
    t_infer = time.monotonic() - t0

    args.out.mkdir(parents=True, exist_ok=True)
    raw = {
        "paradigm": "bottomup" if bottomup else "topdown",
        "config": args.config,
        "checkpoint": str(args.checkpoint.resolve()),
        "dataset": type(dataset).__name__,
        "settings": changed,
        "batch_size": batch,
        "versions": _common.versions(),
        "seconds_inference": round(t_infer, 2),
    }
    raw["images" if bottomup else "instances"] = (bottomup_records if bottomup else topdown_records)(outputs)
    _common.write_json(args.out / "raw.json", raw, indent=None)  # compact: one record per box can be many
    metrics = evaluate_metrics(dataset, outputs, args.out, args.metric or default_metrics(cfg, dataset))
    metrics["seconds_total"] = round(time.monotonic() - t0, 2)
    _common.write_json(args.out / "metrics.json", metrics)
    print(f"\n{metrics}")
    return 0


if __name__ == "__main__":
    _common.run_main(main)
