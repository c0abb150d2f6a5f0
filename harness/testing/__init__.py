"""Test and parity helpers: seeded random MMPose-format weights."""

from harness.testing.random_weights import calibrate_bn_, make_random_checkpoint, make_random_model, randomize_

__all__ = ["calibrate_bn_", "make_random_checkpoint", "make_random_model", "randomize_"]
