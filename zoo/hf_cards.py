"""`python -m zoo export hf-cards OUTDIR`: one Hugging Face model card per checkpoint, OUTDIR/<entry id>/README.md.

Built with huggingface_hub's `ModelCard` / `ModelCardData` / `EvalResult`, so the front matter is the Hub's own
`model-index` and round-trips through `ModelCard.load` / `metadata_load`. Per result row the card carries:
  - the documented numbers (metric_name "AP (documented)"; source: the model-zoo page);
  - when the row has a full run of record (zoo.history.latest_by_row), the reproduced numbers (metric_name
    "AP (reproduced)"), in a result group of their own: the Hub groups results by task, dataset, config, split and
    revision, so the run's annotation-file SHA-256 is the dataset revision (it is the revision of the data that was
    scored), and its verdict, date, device and harness commit go in the group's free-form `dataset.args`.
`dataset.config` is the row name, which keeps single- and multi-scale rows of one checkpoint apart. Partial runs
(--limit, sample data) are shown in the card's text, labelled partial, and never become eval results.
huggingface_hub is imported inside `render`: `zoo` itself imports without it.
"""

from __future__ import annotations

from typing import Any

from zoo import history
from zoo.ecosystem import HUB_TASK, LICENSE, ExportError, RunOfRecord, protocol_words, runs_of_record, task_of
from zoo.render import markdown_env
from zoo.schema import DocumentedRow, Entry, Registry

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


def eval_results(entry: Entry, registry: Registry, runs: dict[str, RunOfRecord]) -> list:
    """The card's EvalResults: documented numbers of every row, reproduced ones of rows with a full run."""
    hub = _hub()
    out = []
    for r in entry.results:
        dataset = registry.datasets[r.dataset]
        common = dict(
            task_type=HUB_TASK,
            task_name=task_of(r.dataset),
            dataset_type=r.dataset,
            dataset_name=dataset.name,
            dataset_config=r.name,
            dataset_split=r.split,
        )
        source = {"source_name": DOCUMENTED_SOURCE, "source_url": r.source_page} if r.source_page else {}
        for m, text in r.metric_text.items():
            out.append(
                hub.EvalResult(
                    **common, metric_type=m, metric_name=f"{m} (documented)", metric_value=float(text), **source
                )
            )
        run = runs.get(r.row_id)
        if run is None or not run.counts:
            continue
        revision = run.annotations_sha256 or f"run-{run.record.run_key}"
        for m in r.metric_text:
            if m in run.record.metrics:
                out.append(
                    hub.EvalResult(
                        **common,
                        dataset_revision=revision,
                        dataset_args=run.provenance(),
                        metric_type=m,
                        metric_name=f"{m} (reproduced)",
                        metric_value=float(run.record.metrics[m]),
                    )
                )
    return out


def _row_view(r: DocumentedRow, registry: Registry, run: RunOfRecord | None) -> dict[str, Any]:
    reproduced = run.record.metrics if run else {}
    return {
        "row_id": r.row_id,
        "dataset": registry.datasets[r.dataset].name,
        "split": r.split,
        "protocol": protocol_words(r.protocol),
        "metrics": [
            {
                "name": m,
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
            "date": run.date,
            "device": run.device,
            "commit": run.commit,
            "run_key": run.record.run_key,
        },
    }


def card_view(entry: Entry, registry: Registry, runs: dict[str, RunOfRecord]) -> dict[str, Any]:
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
    }


def _body(view: dict[str, Any]) -> str:
    env = markdown_env()
    return env.get_template(TEMPLATE).render(card=view)


def card(entry: Entry, registry: Registry, runs: dict[str, RunOfRecord]):
    """The entry's huggingface_hub.ModelCard."""
    hub = _hub()
    tags = ["pose-estimation", "keypoint-detection", "hrnet", "mmpose", entry.dataset, entry.paradigm]
    data = hub.ModelCardData(
        license=LICENSE,
        pipeline_tag=HUB_TASK,
        tags=tags,
        model_name=entry.id,
        eval_results=eval_results(entry, registry, runs),
    )
    return hub.ModelCard.from_template(data, template_str=FRAME, body=_body(card_view(entry, registry, runs)))


def render(registry: Registry, *, records: list[history.RunRecord] | None = None) -> dict[str, str]:
    """{relative path: text} of every card. `records=None` reads the default history (results/history/)."""
    records = history.load() if records is None else records
    runs = runs_of_record(registry, records)
    return {f"{e.id}/README.md": str(card(e, registry, runs)).rstrip("\n") + "\n" for e in registry.entries.values()}
