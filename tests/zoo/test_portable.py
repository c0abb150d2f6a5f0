"""Generated and recorded files hold no path of the machine that wrote them (zoo/results/portable.py, issue 21): paths
are recorded as $DATA/..., $CACHE/..., repository-relative or $ELSEWHERE/name, and the committed history, reports,
exports and README tables are scanned for absolute paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo import settings
from zoo.formats import generated, readme
from zoo.results import portable

REPO = settings.REPO
#: The committed generated and recorded files: run history, reports, exports (with their manifests).
RECORDED = ("results", "reports", "exports")


def _known(tmp_path: Path) -> dict[str, Path]:
    return {"": REPO, portable.CACHE: tmp_path / "cache", portable.DATA: REPO / "data"}


def test_paths_are_recorded_against_the_most_specific_root(tmp_path, monkeypatch):
    known = _known(tmp_path)
    assert (
        portable.path(REPO / "data" / "demo" / "annotations" / "val.json", known) == "$DATA/demo/annotations/val.json"
    )
    assert portable.path(tmp_path / "cache" / "w8.pth", known) == "$CACHE/w8.pth"
    assert portable.path(REPO / "tests" / "data" / "x.json", known) == "tests/data/x.json"
    assert portable.path(tmp_path / "elsewhere" / "boxes.json", known) == "$ELSEWHERE/boxes.json"
    monkeypatch.chdir(REPO)  # a relative path is relative to the working folder, as the user gave it
    assert portable.path("data/demo/images/val", known) == "$DATA/demo/images/val"


def test_a_symlinked_root_is_recognised_by_either_spelling(tmp_path):
    real = tmp_path / "real"
    (real / "coco").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    known = {portable.DATA: link}
    assert portable.path(real / "coco" / "a.json", known) == "$DATA/coco/a.json"
    assert portable.path(link / "coco" / "a.json", known) == "$DATA/coco/a.json"


def test_messages_and_trees_lose_their_machine_paths(tmp_path):
    known = _known(tmp_path)
    message = f"the data lock {REPO}/data/hrnet-zoo-data.lock.json cannot be read; see {REPO}, the checkout."
    assert (
        portable.text(message, known)
        == "the data lock $DATA/hrnet-zoo-data.lock.json cannot be read; see ., the checkout."
    )
    tree = {"boxes": {"file": str(tmp_path / "dets.json")}, "note": f"{tmp_path}/cache/w8.pth: 3 kept", "n": [1, None]}
    out = portable.tree(tree, known)
    assert out == {"boxes": {"file": "$ELSEWHERE/dets.json"}, "note": "$CACHE/w8.pth: 3 kept", "n": [1, None]}
    assert portable.machine_paths(str(out)) == []


@pytest.mark.parametrize(
    "text, found",
    [
        ('"path": "/root/.cache/hrnet-zoo/x.pth"', ["/root/.cache/hrnet-zoo/x.pth"]),
        ("cached in ~/.cache/hrnet-zoo", ["~/.cache/hrnet-zoo"]),
        ("run `python -m x C:\\Users\\me\\x`", ["C:\\Users\\me\\x`"]),
        ("[ckpt](https://download.openmmlab.com/mmpose/a.pth) · [log](demo/checkpoints/a.log.json)", []),
        ("$CACHE/w8.pth and $DATA/demo/val.json and tests/data/x.json", []),
    ],
)
def test_machine_paths_finds_absolute_paths_only(text, found):
    assert portable.machine_paths(text) == found


def test_the_manifest_names_its_folder_relative_to_the_repository(tmp_path):
    command = "python -m zoo export hf-cards"
    assert generated.manifest_header(command, REPO / "exports" / "hf-cards").startswith(f"# written by `{command} ")
    assert "`python -m zoo export hf-cards exports/hf-cards`" in generated.manifest_header(
        command, REPO / "exports" / "hf-cards"
    )
    generated.write({"a.md": "a\n"}, tmp_path / "cards", command=command)
    manifest = (tmp_path / "cards" / generated.MANIFEST).read_text()
    assert manifest.startswith(f"# written by `{command}` into this folder;") and str(tmp_path) not in manifest


def _recorded_files() -> list[Path]:
    files = [p for top in RECORDED for p in sorted((REPO / top).rglob("*")) if p.is_file() and p.suffix != ".png"]
    return files + [REPO / "README.md"]


def _tables(path: Path) -> str:
    """The README's generated block only (its prose may name ~/.cache as the documented default)."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(readme.START), text.find(readme.END)
    assert 0 <= start < end, f"{path}: no generated tables block"
    return text[start:end]


def test_committed_generated_and_recorded_files_hold_no_machine_path():
    leaks = []
    for path in _recorded_files():
        text = _tables(path) if path.name == "README.md" and path.parent == REPO else path.read_text(encoding="utf-8")
        leaks += [f"{path.relative_to(REPO)}: {found}" for found in portable.machine_paths(text, str(REPO))]
    assert not leaks, (
        "absolute paths in generated/recorded files (record them with zoo.results.portable):\n" + "\n".join(leaks)
    )
