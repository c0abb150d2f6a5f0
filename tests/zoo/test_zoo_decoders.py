"""The top-down decoding variants as registry data (PROTOCOLS.md §3.1, §3.2): what the COCO rows resolve to, and
every bad value named with its field path and line."""

from __future__ import annotations

import pytest

from tests.zoo.test_zoo_load import line_of, problems_of, variant
from zoo import RegistryError, load_registry


def test_coco_variant_rows_resolve_to_their_test_settings():
    reg = load_registry()
    got = {
        e.id: (p.decoder, p.affine, p.kernel, p.precision, p.shift_heatmap, e.architecture.head_channels)
        for e in reg.entries.values()
        if e.id.startswith(("hrnet_w32_coco", "hrnet_w48_coco")) and "aug" not in e.config and e.paradigm == "topdown"
        for p in [e.results[0].protocol]
    }
    assert got["hrnet_w32_coco_256x192"] == ("default", "standard", 11, "fp32", True, 17)
    assert got["hrnet_w32_coco_256x192_fp16_dynamic"] == ("default", "standard", 11, "fp16", True, 17)
    assert got["hrnet_w48_coco_384x288_dark"] == ("dark", "standard", 17, "fp32", True, 17)
    assert got["hrnet_w32_coco_256x192_udp"] == ("udp", "udp", 11, "fp32", False, 17)
    assert got["hrnet_w48_coco_384x288_udp"] == ("udp", "udp", 17, "fp32", False, 17)
    assert got["hrnet_w32_coco_256x192_udp_regress"] == ("udp-combined", "udp", 11, "fp32", False, 51)
    # Rows written before the variants existed read as they always ran.
    aic = reg.entry("hrnet_w32_aic_256x192").results[0].protocol
    assert (aic.decoder, aic.affine, aic.kernel, aic.precision) == ("default", "standard", 11, "fp32")


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        ("decoder: dark", "protocols.td-coco-dark.decoder", "'darkk'"),
        ("affine: udp", "protocols.td-coco-udp.affine", "'udq'"),
    ],
)
def test_unknown_choice_is_named(tmp_path, edit, field, words):
    bad = edit.replace("dark", "darkk") if "dark" in edit else edit.replace("udp", "udq")
    path = variant(tmp_path, (f"    {edit}\n", f"    {bad}\n"))
    problems = problems_of(path)
    assert any(words in p and "expected" in p for p in problems), problems


def test_even_kernel_is_refused(tmp_path):
    path = variant(
        tmp_path, ("protocol: {base: td-coco-dark, kernel: 17}", "protocol: {base: td-coco-dark, kernel: 16}")
    )
    problems = problems_of(path)
    line = line_of(path, "kernel: 16")
    assert any(f"(line {line})" in p and "odd" in p for p in problems), problems


def test_combined_head_and_decoder_go_together(tmp_path):
    path = variant(tmp_path, ("protocol: {base: td-coco-udp-regress}", "protocol: {base: td-coco-udp}"))
    problems = problems_of(path)
    assert any("decoder 'udp' for a combined head" in p and "udp-combined" in p for p in problems), problems
    with pytest.raises(RegistryError):
        load_registry(variant(tmp_path, ("keypoint_schema: coco, target: combined}", "keypoint_schema: coco}")))
