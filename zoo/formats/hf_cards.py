"""`python -m zoo export hf-cards OUTDIR`: one Hugging Face model card per checkpoint, OUTDIR/<entry id>/README.md.

Built with huggingface_hub's `ModelCard` / `ModelCardData` / `EvalResult`, so the front matter is the Hub's own
`model-index` and round-trips through `ModelCard.load` / `metadata_load`. Per result row the card carries:
  - the documented numbers (metric_name "AP (documented)"; source: the model-zoo page), metrics named as MMPose's
    metafiles name them (AP@0.5, not AP50: zoo.formats.ecosystem.exported_metric);
  - when the row has a full run of record (its standing, zoo.results.standing), the reproduced numbers (metric_name
    "AP (reproduced)"), in a result group of their own: the Hub groups results by task, dataset, config, split and
    revision, so the run's annotation-file SHA-256 is the dataset revision (it is the revision of the data that was
    scored), and its verdict, date, device and harness commit go in the group's free-form `dataset.args`.
`dataset.config` is the row name, which keeps single- and multi-scale rows of one checkpoint apart. Partial runs
(--limit, sample data) are shown in the card's text, labelled partial, and never become eval results.
The metadata also carries `library_name` (`library_name()`), `datasets` (`hub_datasets()`) and `pipeline_tag`
(keypoint-detection); the body ends with the commands that fetch and evaluate the checkpoint with this harness.
huggingface_hub is imported inside `render`: `zoo` itself imports without it.
"""

from __future__ import annotations

from typing import Any

from zoo.errors import ExportError
from zoo.formats.ecosystem import (
    HUB_TASK,
    LICENSE,
    exported_metric,
    protocol_words,
)
from zoo.formats.render import markdown_env
from zoo.registry.schema import DocumentedRow, Entry, Registry
from zoo.results import history
from zoo.results.standing import Standing, by_row, standings

TEMPLATE = "hf_card.md.j2"
#: The card file: front matter (written by huggingface_hub) around the body rendered from TEMPLATE.
FRAME = "---\n{{ card_data }}\n---\n\n{{ body }}"
DASH = "–"
DOCUMENTED_SOURCE = "MMPose model zoo"


def _hub():
    try:
        import huggingface_hub
    except ImportError as exc:
        raise ExportError(
            "exporting Hub model cards needs huggingface_hub; install it with `pip install 'hrnet-zoo[zoo]'`"
        ) from exc
    return huggingface_hub


#: The library whose checkpoints these are. A published zoo file is an MMPose checkpoint: MMPose trained it, wrote it
#: (its state-dict names and mmcv `meta`) and loads it as it is; this harness only re-reads it to evaluate it, so
#: "mmpose" is what the card can truthfully claim, and it is how the Hub groups OpenMMLab models. A checkpoint that
#: ships with this repository (`file:` URL: the demo) was trained by this project: "hrnet-zoo".
LIBRARY_PUBLISHED, LIBRARY_OURS = "mmpose", "hrnet-zoo"


def library_name(entry: Entry) -> str:
    return LIBRARY_OURS if entry.checkpoint.url.startswith("file:") else LIBRARY_PUBLISHED


def hub_datasets(entry: Entry, registry: Registry) -> list[str]:
    """The card's `datasets`: the entry's training dataset, then those its rows are evaluated on. Each as a Hub
    dataset id where the registry names one (a source mirror `hf://datasets/OWNER/REPO[@REV]`), else its registry
    key: the same value the card's model-index gives as `dataset.type`, so the card names each dataset one way."""
    out = []
    for key in dict.fromkeys([entry.dataset, *(r.dataset for r in entry.results)]):
        mirrors = [m for s in registry.datasets[key].sources for m in s.mirrors if m.startswith("hf://datasets/")]
        out.append(mirrors[0].removeprefix("hf://datasets/").split("@")[0] if mirrors else key)
    return out


def usage_view(entry: Entry, registry: Registry) -> dict[str, Any]:
    """The commands of the card's usage snippet (harness verbs, as `python -m harness --help` lists them)."""
    dataset = registry.datasets[entry.dataset]
    return {
        "fetch": f"python -m harness fetch {entry.id}",
        "data": f"python -m harness data fetch {dataset.key} --data-root data" if dataset.sources else None,
        "reproduce": f"python -m harness reproduce --dataset {dataset.key} --rows '{entry.id}/*' --data-root data",
        "evaluate": f"python -m harness evaluate {entry.results[0].row_id} --data-root data --out runs/{entry.id}"
        if entry.results
        else None,
    }


def eval_results(entry: Entry, registry: Registry, runs: dict[str, Standing]) -> list:
    """The card's EvalResults: documented numbers of every row, reproduced ones of rows with a full run (`runs`: the
    standings of the rows that have a run of record)."""
    hub = _hub()
    out = []
    for r in entry.results:
        dataset = registry.datasets[r.dataset]
        common = dict(
            task_type=HUB_TASK,
            task_name=dataset.task,
            dataset_type=r.dataset,
            dataset_name=dataset.name,
            dataset_config=r.name,
            dataset_split=r.split,
        )
        source = {"source_name": DOCUMENTED_SOURCE, "source_url": r.source_page} if r.source_page else {}
        for m, text in r.metric_text.items():
            out.append(
                hub.EvalResult(
                    **common,
                    metric_type=exported_metric(m),
                    metric_name=f"{exported_metric(m)} (documented)",
                    metric_value=float(text),
                    **source,
                )
            )
        run = runs.get(r.row_id)
        if run is None or not run.counts:
            continue
        revision = run.annotations_sha256 or f"run-{run.run.run_key}"
        for m in r.metric_text:
            if m in run.metrics:
                out.append(
                    hub.EvalResult(
                        **common,
                        dataset_revision=revision,
                        dataset_args=run.provenance(),
                        metric_type=exported_metric(m),
                        metric_name=f"{exported_metric(m)} (reproduced)",
                        metric_value=float(run.metrics[m]),
                    )
                )
    return out


def _row_view(r: DocumentedRow, registry: Registry, run: Standing | None) -> dict[str, Any]:
    reproduced = run.metrics if run else {}
    return {
        "row_id": r.row_id,
        "dataset": registry.datasets[r.dataset].name,
        "split": r.split,
        "protocol": protocol_words(r.protocol),
        "metrics": [
            {
                "name": exported_metric(m),
                "documented": text,
                "reproduced": f"{reproduced[m]:.4f}" if m in reproduced else DASH,
                "tolerance": f"{r.tolerances[m]:g}",
            }
            for m, text in r.metric_text.items()
        ],
        "run": None
        if run is None
        else {
            "kind": "Reproduced" if run.counts else "Partial run (never counts as a reproduction)",
            "verdict": run.label,
            "date": run.run.date,
            "device": run.device,
            "commit": run.commit,
            "run_key": run.run.run_key,
        },
    }


def card_view(entry: Entry, registry: Registry, runs: dict[str, Standing]) -> dict[str, Any]:
    """The template's input for one entry."""
    a, c = entry.architecture, entry.checkpoint
    dataset = registry.datasets[entry.dataset]
    paradigm = "top-down" if entry.paradigm == "topdown" else "bottom-up"
    head = {"heatmap": "heatmap head", "associative_embedding": "Associative Embedding head"}.get(
        a.head, "HigherHRNet head"
    )
    return {
        "id": entry.id,
        "name": entry.name,
        "architecture": f"HRNet-W{a.width} {paradigm} with a {head}, input {a.input_size[0]}x{a.input_size[1]} "
        f"(HxW), {a.num_keypoints} keypoints ({a.keypoint_schema})",
        "filename": c.filename,
        "url": c.url.removeprefix("file:"),
        "sha256_prefix": c.sha256_prefix,
        "log_url": (c.log_url or "").removeprefix("file:"),
        "config": entry.config,
        "dataset": dataset.name,
        "homepage": dataset.homepage,
        "source_pages": list(dict.fromkeys(r.source_page for r in entry.results if r.source_page)),
        "rows": [_row_view(r, registry, runs.get(r.row_id)) for r in entry.results],
        "bibtex": [registry.papers[key] for key in entry.papers],
        "usage": usage_view(entry, registry),
    }


def _body(view: dict[str, Any]) -> str:
    env = markdown_env()
    return env.get_template(TEMPLATE).render(card=view)


def card(entry: Entry, registry: Registry, runs: dict[str, Standing]):
    """The entry's huggingface_hub.ModelCard."""
    hub = _hub()
    tags = ["pose-estimation", "keypoint-detection", "hrnet", "mmpose", entry.dataset, entry.paradigm]
    data = hub.ModelCardData(
        license=LICENSE,
        library_name=library_name(entry),
        datasets=hub_datasets(entry, registry),
        pipeline_tag=HUB_TASK,
        tags=tags,
        model_name=entry.id,
        eval_results=eval_results(entry, registry, runs),
    )
    return hub.ModelCard.from_template(data, template_str=FRAME, body=_body(card_view(entry, registry, runs)))


def render(registry: Registry, *, records: list[history.RunRecord] | None = None) -> dict[str, str]:
    """{relative path: text} of every card. `records=None` reads the default history (results/history/)."""
    records = history.load() if records is None else records
    runs = by_row(s for s in standings(registry, records) if s.run is not None)
    return {f"{e.id}/README.md": str(card(e, registry, runs)).rstrip("\n") + "\n" for e in registry.entries.values()}
