"""HRNet backbone + heads with MMPose's state_dict names (PROTOCOLS.md §1)."""
