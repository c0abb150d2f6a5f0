"""`reproduce --launcher slurm`: every documented row a Slurm job, submitted with submitit (the `cluster` extra).

The submitting process plans the rows (harness.cluster.plan: run folder, run identity, the input files' hashes; a
row whose run is already complete and verified is skipped), submits the others as one job array (submit), and
records rows, job ids and run identities in a manifest under the runs folder (manifest). Each job runs one row on
its node (job: the checkpoint and the input files verified there first, then the engine, resuming from the row's
finished chunks; with several tasks, torch.distributed over Slurm's environment, rank 0 writing). The submitter then
waits (wait: job states from squeue and submitit's own files, states) and gathers: one writer appends the history
and renders the reports (harness.commands.reproduce.gather; `python -m harness jobs` re-attaches after a logout).
"""
