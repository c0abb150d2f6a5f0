"""The engine's model seam that the goldens run through: `run_evaluation(..., model_factory=, model_label=)`."""

from __future__ import annotations

import json

import pytest

from harness.engine import run_evaluation
from harness.errors import HarnessError
from tests.golden.cases import BY_NAME, run_case


@pytest.mark.parametrize("kwargs", [{"model_factory": lambda: None}, {"model_label": "x"}, {"model_label": " "}])
def test_model_factory_and_label_go_together(kwargs, registry, tmp_path):
    # Checked before the spec is read, so no spec is needed here.
    with pytest.raises(HarnessError, match="model_factory and model_label go together"):
        run_evaluation(None, registry=registry, out_dir=tmp_path, **kwargs)


def test_the_label_keys_the_run_and_no_checkpoint_file_is_needed(registry, samples_dir, tmp_path):
    run_case(BY_NAME["standin_td_macaque__published"], registry=registry, samples_dir=samples_dir, work=tmp_path)
    record = json.loads((tmp_path / "run" / "result.json").read_text())
    assert record["identity"]["model_label"] == "GT stand-in"
    assert record["identity"]["checkpoint_sha256"] is None
    assert record["provenance"]["checkpoint"] is None
