"""predictions.json writing (harness/results.py): every value reads back identical (floats to the bit), the text is
the stdlib json text wherever the two float notations agree, writing is atomic, and a non-finite number is refused
with the record named."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.results import write_predictions

#: Where Python's float repr and orjson use the same notation (positional); outside it only the exponent's spelling
#: differs (1e-05 / 1e-5, 1e+16 / 1e16).
SAME_NOTATION = (1e-4, 1e16)


def same_floats(a, b) -> bool:
    """Equal values, types and float bits (-0.0 is not 0.0), recursively."""
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and math.copysign(1, a) == math.copysign(1, b) and a == b
    if isinstance(a, dict):
        return type(b) is dict and list(a) == list(b) and all(same_floats(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return type(b) is list and len(a) == len(b) and all(same_floats(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def stdlib_text(records: list[dict]) -> bytes:
    """The former writer's bytes: one json.dumps(separators=(",", ":"), allow_nan=False) per line inside an array."""
    lines = [json.dumps(r, separators=(",", ":"), allow_nan=False) for r in records]
    return ("[\n" + ",\n".join(lines) + ("\n" if lines else "") + "]\n").encode()


finite = st.floats(allow_nan=False, allow_infinity=False)
float32 = st.floats(width=32, allow_nan=False, allow_infinity=False).map(float)
record = st.fixed_dictionaries({
    "image_id": st.integers(0, 2**62),
    "category_id": st.just(1),
    "keypoints": st.lists(st.one_of(finite, float32), max_size=51),
    "score": st.one_of(finite, float32),
    "center": st.lists(float32, min_size=2, max_size=2),
    "area": finite,
    "bbox_id": st.integers(-(2**40), 2**40),
    "note": st.one_of(st.none(), st.text(max_size=8)),
})  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(record, max_size=5))
def test_every_value_reads_back_identical(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("w") / "predictions.json"
    write_predictions(path, records)
    assert same_floats(json.loads(path.read_bytes()), records)


ordinary = (
    st.floats(*SAME_NOTATION)
    .flatmap(lambda x: st.sampled_from([x, -x, float(np.float32(x))]))
    .filter(lambda x: SAME_NOTATION[0] <= abs(x) < SAME_NOTATION[1])
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "image_id": st.integers(0, 2**62),
                "keypoints": st.lists(ordinary, max_size=51),
                "score": ordinary,
                "note": st.text(max_size=4).filter(lambda s: s.isascii() and s.isprintable()),  # stdlib escapes DEL
            }
        ),
        max_size=4,
    )
)
def test_bytes_equal_the_stdlib_text_for_ordinary_magnitudes(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("w") / "predictions.json"
    write_predictions(path, records)
    assert path.read_bytes() == stdlib_text(records)


@pytest.mark.parametrize("scale", [1e-9, 1e-5, 3e-5, 1e-4, 1.0, 1e3, 1e15, 1e16, 1e20])
def test_every_float_range_of_real_outputs(tmp_path, scale):
    """float32 keypoints and float64 scores over decades, where the two notations agree and where they part ways."""
    rng = np.random.default_rng(0)
    kp = (rng.standard_normal((200, 51)) * scale).astype(np.float32).tolist()
    records = [{"image_id": i, "keypoints": kp[i], "score": float(rng.random() * scale)} for i in range(200)]
    write_predictions(tmp_path / "p.json", records)
    assert same_floats(json.loads((tmp_path / "p.json").read_bytes()), records)
    if SAME_NOTATION[0] * 10 <= scale <= SAME_NOTATION[1] / 1e3:
        assert (tmp_path / "p.json").read_bytes() == stdlib_text(records)


def test_what_orjson_refuses_goes_through_json(tmp_path):
    records = [{"image_id": 2**70, 3: "int key", "s": "caf\u00e9 \x7f"}, {"image_id": 1, "none": None}]
    write_predictions(tmp_path / "p.json", records)
    assert json.loads((tmp_path / "p.json").read_text(encoding="utf-8")) == [
        {"image_id": 2**70, "3": "int key", "s": "caf\u00e9 \x7f"},
        {"image_id": 1, "none": None},
    ]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_is_refused_and_the_old_file_kept(tmp_path, bad):
    path = tmp_path / "predictions.json"
    write_predictions(path, [{"image_id": 1, "keypoints": [1.0, 2.0, 0.5], "score": 0.9}])
    before = path.read_bytes()
    records = [{"image_id": 1, "bbox_id": 0, "keypoints": [1.0]}, {"image_id": 7, "bbox_id": 3, "keypoints": [bad]}]
    with pytest.raises(ValueError, match=r"image_id 7, bbox_id 3 holds a non-finite number"):
        write_predictions(path, records)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.json"]  # no temp file left behind


def test_empty(tmp_path):
    write_predictions(tmp_path / "p.json", [])
    assert (tmp_path / "p.json").read_bytes() == b"[\n]\n"
    assert json.loads((tmp_path / "p.json").read_text()) == []
