"""A row split over several jobs (--jobs-per-row): the parts of the chunk plan, and the gathering step that combines
only chunks of the row's run identity and refuses an incomplete set (issue 23). No Slurm: the parts run here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.chunks import part_range
from harness.errors import HarnessError

pytestmark = pytest.mark.slow


def test_parts_cover_every_chunk_once():
    for count in range(12):
        for parts in range(1, 6):
            covered = [i for p in range(parts) for i in part_range(p, parts, count)]
            assert covered == list(range(count))
    with pytest.raises(ValueError):
        part_range(2, 2, 5)


def _spec(demo_data: Path, repo_root: Path):
    from harness.spec import DataPaths, build_spec
    from zoo import load_registry

    registry = load_registry()
    row = registry.row("hrnet_w8_demo_128x96/gt-bbox")
    root = demo_data
    split = registry.datasets["demo"].splits[row.split]
    data = DataPaths(root / split.ann_file, root / split.img_dir, None, reference_layout=True, root=root)
    ckpt = next((repo_root / "demo" / "checkpoints").glob("*.pth"))
    return registry, build_spec(registry, row, data=data, checkpoint=ckpt, device="cpu", chunk_size=48, threads=1)


def test_gathering_combines_only_matching_chunks_and_needs_all_of_them(demo_data, repo_root, tmp_path):
    import numpy as np

    from harness.engine import compute_part, run_evaluation

    registry, spec = _spec(demo_data, repo_root)
    out = tmp_path / "run"
    first = compute_part(spec, registry=registry, out_dir=out, part=0, parts=2)
    assert (first.chunk_count, first.indices, first.computed_chunks) == (3, [0], 1)
    with pytest.raises(HarnessError, match=r"2 of the 3 chunks of run .* are not in .*chunk 1, 2"):
        run_evaluation(spec, registry=registry, out_dir=out, progress=False, reuse_only=True)
    second = compute_part(spec, registry=registry, out_dir=out, part=1, parts=2)
    assert (second.indices, second.computed_chunks) == ([1, 2], 2)
    # A chunk of another run identity in the row's folder (planted: chunk 1 relabelled) is never combined.
    path = first.chunk_folder / "chunk_00001.npz"
    with np.load(path, allow_pickle=False) as z:
        fields = {k: z[k] for k in z.files}
    meta = json.loads(str(fields["_meta"]))
    np.savez(path, **{**fields, "_meta": np.array(json.dumps({**meta, "run_key": "another-run"}))})
    with pytest.raises(HarnessError, match="does not match run"):
        run_evaluation(spec, registry=registry, out_dir=out, progress=False, reuse_only=True)
    assert not (out / "result.json").exists()
    compute_part(spec, registry=registry, out_dir=out, part=1, parts=2)  # computes chunk 1 again
    outcome = run_evaluation(spec, registry=registry, out_dir=out, progress=False, reuse_only=True)
    assert (outcome.reused_chunks, outcome.computed_chunks) == (3, 0)
    run_evaluation(spec, registry=registry, out_dir=tmp_path / "whole", progress=False)
    for name in ("predictions.json", "metrics.json"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
