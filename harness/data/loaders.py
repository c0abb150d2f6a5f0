"""Annotation readers, keyed by the annotation format a dataset names in zoo.yaml (`annotations:`,
zoo.registry.schema.AnnotationFormat): the harness picks them by the dataset's format, never by its evaluator. Two
tables with the same keys (tests/harness/data/test_loaders.py checks them against the vocabulary): LOADERS, the top-down
GT instances of a split; TABLES, the split as checked COCO-shaped tables (images, annotations) that the engine selects
images from and COCO-style scorers read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from harness.data.annotations import read_json, validate_ground_truth
from harness.data.coco_style import load_gt_instances
from harness.data.horse10 import load_horse10_instances
from harness.data.mpii import load_mpii_instances, mpii_tables, read_mpii_annotations
from harness.data.records import InstanceSet
from harness.errors import DataError
from zoo.evaluators import Evaluator
from zoo.registry.schema import KeypointSchema, Protocol

#: load(ann_file, *, img_dir, protocol, schema) -> the split's GT instances.
Loader = Callable[..., InstanceSet]


def _coco_json(ann_file: Path, *, img_dir: Path, protocol: Protocol, schema: KeypointSchema) -> InstanceSet:
    # GT boxes cleaned as the row's era says (PROTOCOLS.md §5, §8 item 3).
    return load_gt_instances(
        ann_file, img_dir=img_dir, gt_box_shrink=protocol.era.gt_box_shrink, num_keypoints=schema.num_keypoints
    )


def _horse10_json(ann_file: Path, *, img_dir: Path, protocol: Protocol, schema: KeypointSchema) -> InstanceSet:
    # Every labelled instance, raw annotation box, no cleaning (PROTOCOLS.md §5).
    return load_horse10_instances(ann_file, img_dir=img_dir, num_keypoints=schema.num_keypoints)


def _mpii_json(ann_file: Path, *, img_dir: Path, protocol: Protocol, schema: KeypointSchema) -> InstanceSet:
    # Every person of the json, with the annotation's own center and scale (PROTOCOLS.md §11).
    return load_mpii_instances(ann_file, img_dir=img_dir)


#: annotation format -> loader.
LOADERS: Mapping[str, Loader] = MappingProxyType(
    {
        "coco-json": _coco_json,
        "horse10-json": _horse10_json,
        "mpii-json": _mpii_json,
    }
)


def _coco_tables(ann_file: Path, *, schema: KeypointSchema, evaluator: Evaluator) -> Mapping[str, Any]:
    # Checked like predictions, and for every field the evaluator reads, before hours of inference.
    gt = read_json(ann_file, what="annotation file")
    validate_ground_truth(gt, ann_file, schema, evaluator)
    return gt


def _mpii_tables(ann_file: Path, *, schema: KeypointSchema, evaluator: Evaluator) -> Mapping[str, Any]:
    # Each record checked by the reader; the tables hold one annotation per person (id = bbox_id).
    return mpii_tables(read_mpii_annotations(ann_file))


#: annotation format -> reader of its tables: (ann_file, *, schema, evaluator) -> COCO-shaped tables.
TABLES: Mapping[str, Callable[..., Mapping[str, Any]]] = MappingProxyType(
    {
        "coco-json": _coco_tables,
        "horse10-json": _coco_tables,
        "mpii-json": _mpii_tables,
    }
)


#: The formats whose file IS the COCO-shaped tables (data check reads them raw, to name every structure problem).
COCO_SHAPED = frozenset({"coco-json", "horse10-json"})


def read_tables(annotations: str, ann_file: Path, *, schema: KeypointSchema, evaluator: Evaluator) -> Mapping[str, Any]:
    """A split's annotation file in the `annotations` format as checked COCO-shaped tables."""
    return _of(TABLES, annotations)(Path(ann_file), schema=schema, evaluator=evaluator)


def _of(table: Mapping[str, Any], annotations: str) -> Any:
    try:
        return table[annotations]
    except KeyError:
        raise DataError(
            f"no loader for annotation format {annotations!r}; the harness reads {', '.join(table)} "
            "(docs/DESIGN.md, 'Adding a dataset')"
        ) from None


def load_gt_split(
    annotations: str, ann_file: Path, *, img_dir: Path, protocol: Protocol, schema: KeypointSchema
) -> InstanceSet:
    """The GT instances of a split whose files are in the `annotations` format."""
    return _of(LOADERS, annotations)(ann_file, img_dir=img_dir, protocol=protocol, schema=schema)
