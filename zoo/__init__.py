"""The model-zoo registry of MMPose's HRNet family: zoo.yaml as frozen, validated records. Imports without torch."""

from zoo.errors import RegistryError, UnknownEntryError, ZooError

__all__ = ["RegistryError", "UnknownEntryError", "ZooError", "load_registry"]


def __getattr__(name: str):
    # The loader, and PyYAML with it, is imported on first use (PEP 562): `zoo.errors` and `zoo.dependencies` then
    # import without the base dependencies, so a missing PyYAML can be named in one line (zoo/dependencies.py).
    if name == "load_registry":
        from zoo.registry.load import load_registry

        return load_registry
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
