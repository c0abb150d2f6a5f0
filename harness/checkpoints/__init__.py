"""Checkpoint loading (safe, strict) and conversion; the cache, downloads and the run's check in `store`.

Modules, leaves first: hashing (streamed sha256, sidecar record) -> cache (paths, verify, publish, lock) -> download,
hub, torch_hub (sources) -> store (look-up, fetch, verified_for_run); formats (magic-byte sniffing) -> safe_load ->
strict, convert. Import each name from its module; this package re-exports nothing, so `import harness.checkpoints`
and the store import without torch (`python -m harness --help` and `fetch` never need it).
"""
