"""The registry: zoo.yaml, keypoints.yaml and papers.bib read into frozen, validated records (schema)."""
