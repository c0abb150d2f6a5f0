"""Page and export formats: model-zoo pages in (import, sync); README tables, model-index metafiles, Hub
cards, JSON and search out."""
