"""Top-down ground-truth instance loaders, keyed by the annotation format a dataset names in zoo.yaml
(`annotations:`, zoo.schema.AnnotationFormat): the harness picks a loader by the dataset's format, never by its
evaluator. tests/harness/data/test_loaders.py checks that this table and the vocabulary have the same keys."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from harness.data.coco_style import load_gt_instances
from harness.data.horse10 import load_horse10_instances
from harness.data.records import InstanceSet
from harness.errors import DataError
from zoo.schema import KeypointSchema, Protocol

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


#: annotation format -> loader.
LOADERS: Mapping[str, Loader] = MappingProxyType(
    {
        "coco-json": _coco_json,
        "horse10-json": _horse10_json,
    }
)


def load_gt_split(
    annotations: str, ann_file: Path, *, img_dir: Path, protocol: Protocol, schema: KeypointSchema
) -> InstanceSet:
    """The GT instances of a split whose files are in the `annotations` format."""
    try:
        loader = LOADERS[annotations]
    except KeyError:
        raise DataError(
            f"no loader for annotation format {annotations!r}; the harness reads {', '.join(LOADERS)} "
            "(docs/DESIGN.md, 'Adding a dataset')"
        ) from None
    return loader(ann_file, img_dir=img_dir, protocol=protocol, schema=schema)
