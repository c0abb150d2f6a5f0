"""The exported model-index, read with Papers with Code's `model-index` library, next to MMPose 0.29's own metafiles
(the .yml beside each page in tests/data/pages/family): every MMPose Model whose checkpoint is in the registry has its
counterpart, equal field by field, except the differences listed in INTENTIONAL with why.

Models are paired by checkpoint and order: MMPose gives the single- and multi-scale rows of one checkpoint the same
Name, in page order, which is the order of an entry's rows in zoo.yaml.

The seven COCO pages of issue 25 fail here until their rows are in zoo.yaml (the td-variants and bu-variants lanes).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from zoo import load_registry
from zoo.formats import model_index
from zoo.formats.ecosystem import COLLECTIONS, MMPOSE_METRICS, architecture_tags, collection_of
from zoo.formats.pages import read_page

modelindex = pytest.importorskip("modelindex", reason="model-index (the test extra) reads the metafiles")

#: MMPose's metafiles compared, relative to tests/data/pages/family (PROVENANCE.md there): those of issue 25's seven
#: pages (each beside its page), and three of the seeds' models (MMPose 0.29 prints the seeds' numbers for them).
ISSUE_25 = (
    "topdown_heatmap/coco/hrnet_coco.yml",
    "topdown_heatmap/coco/hrnet_fp16_coco.yml",
    "topdown_heatmap/coco/hrnet_dark_coco.yml",
    "topdown_heatmap/coco/hrnet_udp_coco.yml",
    "associative_embedding/coco/hrnet_coco.yml",
    "associative_embedding/coco/hrnet_udp_coco.yml",
    "associative_embedding/coco/higherhrnet_udp_coco.yml",
)
METAFILES = (
    *ISSUE_25,
    "associative_embedding/aic/hrnet_aic.yml",
    "associative_embedding/coco/higherhrnet_coco.yml",
    "topdown_heatmap/coco/hrnet_augmentation_coco.yml",
)

#: Where our metafiles differ from MMPose's on purpose, and why.
INTENTIONAL = {
    "Name": "ours is the row id (ENTRY/ROW), distinct for the single- and multi-scale rows of one checkpoint, which "
    "MMPose's metafiles give one Name (mim and Papers with Code then show two results under one model)",
    "Metadata (other keys)": "added: entry, row, split, input size, checkpoint hash prefix, the protocol of the row "
    "and its sentence, papers, source page, training log (what the number was computed under)",
    "Collection README": "left out: model-index's check() reads README as a local file and rejects MMPose's URL",
    "Collections": "in model-index.yml, once, not repeated in every metafile (model-index merges both layouts)",
}


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    registry = load_registry()
    out = tmp_path_factory.mktemp("model-index")
    for rel, text in model_index.render(registry).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text, encoding="utf-8")
    index = modelindex.load(str(out))
    assert index.check(silent=True) == []
    return index


def _by_checkpoint(models) -> dict[str, list]:
    out: dict[str, list] = {}
    for m in models:
        out.setdefault(m.weights, []).append(m)
    return out


@pytest.mark.parametrize("rel", METAFILES)
def test_exported_models_match_mmpose_metafile_field_by_field(ours, family_pages_dir, rel):
    theirs = modelindex.load(str(family_pages_dir / rel))
    mine = _by_checkpoint(ours.models)
    seen: dict[str, int] = {}
    for their in theirs.models:
        nth = seen[their.weights] = seen.get(their.weights, -1) + 1
        assert len(mine.get(their.weights, [])) > nth, f"{their.name} ({their.weights}): no row in zoo.yaml"
        model = mine[their.weights][nth]
        where = f"{rel}: {their.name} vs our {model.name}"
        assert model.config == their.config, where
        assert model.in_collection == their.in_collection, where
        assert model.metadata.architecture == their.metadata.architecture, where
        assert model.metadata.training_data == their.metadata.training_data, where
        assert len(model.results) == len(their.results) == 1, where
        a, b = model.results[0], their.results[0]
        assert (a.task, a.dataset, a.metrics) == (b.task, b.dataset, b.metrics), where  # names and values
    collections = {c.name: c for c in ours.collections}
    for their in theirs.collections:
        assert their.name in collections, f"{rel}: collection {their.name} not exported"
        assert collections[their.name].paper == their.paper, f"{rel}: collection {their.name}'s paper"


def test_every_model_carries_its_architecture_and_mmpose_metric_names(ours):
    """`model.metadata.architecture` is set on every Model (not only through its Collection), and no metric keeps
    zoo.yaml's spelling where MMPose spells it otherwise."""
    assert ours.models
    for model in ours.models:
        assert model.metadata.architecture, model.name
        assert model.in_collection in {c.name for c in ours.collections}
        assert not set(model.results[0].metrics) & set(MMPOSE_METRICS), model.name


def test_collection_paper_links_are_the_pages_links(family_pages_dir, seeds_dir):
    """Each collection's paper URL is the link MMPose's pages give above that paper's bibtex block, where a page in
    tests/data has one (the Albumentations page predates those links: MMPose's metafile is checked above)."""
    links: dict[str, set[str]] = {}
    pages = [family_pages_dir / rel.replace(".yml", ".md") for rel in ISSUE_25]
    for path in [*pages, *Path(seeds_dir).glob("*.txt")]:
        for bib in read_page(path).papers:
            if bib.url:
                links.setdefault(bib.key, set()).add(bib.url)
    checked = 0
    for c in COLLECTIONS.values():
        if c.paper in links:
            assert links[c.paper] == {c.url}, c.name
            checked += 1
    assert checked >= 4  # HRNet, HigherHRNet, DarkPose, UDP


@pytest.mark.parametrize("rel", ISSUE_25)
def test_collection_and_architecture_rules_give_mmposes_for_every_model_of_the_page(family_pages_dir, rel):
    """The rules (zoo.formats.ecosystem.collection_of, architecture_tags) applied to what a page says of each model (its
    bibtex keys, which `zoo import` writes into the entry's papers; its head, from the config) give MMPose's In
    Collection and Architecture: checked for every model of the page, whether or not zoo.yaml has its row yet."""
    papers = tuple(b.key for b in read_page(family_pages_dir / rel.replace(".yml", ".md")).papers)
    for model in modelindex.load(str(family_pages_dir / rel)).models:
        bottomup = "/associative_embedding/" in model.config
        head = "higher_resolution" if "higherhrnet" in model.config else "associative_embedding"
        entry = SimpleNamespace(
            paradigm="bottomup" if bottomup else "topdown",
            architecture=SimpleNamespace(head=head if bottomup else "heatmap"),
            papers=papers,
        )
        assert collection_of(entry).name == model.in_collection, model.name
        assert architecture_tags(entry) == model.metadata.architecture, model.name
