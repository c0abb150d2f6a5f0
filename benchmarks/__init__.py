"""Speed and scale benchmarks: ours vs the reference (MMPose 0.29), `python -m benchmarks` (see suite.py)."""
