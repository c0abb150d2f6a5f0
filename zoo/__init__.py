"""The model-zoo registry of MMPose's HRNet family: zoo.yaml as frozen, validated records. Imports without torch."""

from zoo.errors import RegistryError, UnknownEntryError, ZooError
from zoo.load import load_registry

__all__ = ["RegistryError", "UnknownEntryError", "ZooError", "load_registry"]
