"""Run results: the run record with its typed identity and provenance, the append-only history, verdicts,
each row's standing, and the portable paths that recorded files hold."""
