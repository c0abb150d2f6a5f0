"""Shared helpers of the oracle scripts. Runs INSIDE the MMPose 0.29 venv (.oracle/venv); never imported by the
harness. Import this module before anything that imports mmpose: it installs the NumPy aliases mmpose 0.29 needs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

# PROTOCOLS.md §2.3, PARITY.md "The oracle environment": mmpose 0.29.0 still uses np.int (removed in NumPy 1.24)
# in its bottom-up transforms; restore the aliases before mmpose is imported anywhere.
np.int = int  # type: ignore[attr-defined]
np.float = float  # type: ignore[attr-defined]
np.bool = bool  # type: ignore[attr-defined]

import mmpose  # noqa: E402  (needs the aliases above)
import torch  # noqa: E402
from mmcv import Config  # noqa: E402

MIM_CONFIGS = Path(mmpose.__file__).resolve().parent / ".mim" / "configs"


class OracleScriptError(Exception):
    """A usage or data problem; scripts print it to stderr and exit with status 2."""


def resolve_config(config: str) -> Path:
    """A config given as a file path, or as a 0.x path relative to the repository (`configs/body/...`) or to its
    configs folder (`body/...`), which is then read from the copy the wheel ships
    (PARITY.md "The oracle environment")."""
    p = Path(config)
    if p.is_file():
        return p.resolve()
    rel = Path(*p.parts[1:]) if p.parts and p.parts[0] == "configs" else p
    shipped = MIM_CONFIGS / rel
    if shipped.is_file():
        return shipped
    raise OracleScriptError(
        f"config {config!r} is neither a file nor a config shipped with mmpose {mmpose.__version__} "
        f"(looked for {shipped}); use a 0.x path such as "
        "configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/aic/hrnet_w32_aic_256x192.py"
    )


def load_config(config: str) -> Config:
    cfg = Config.fromfile(str(resolve_config(config)))
    # The configs name an ImageNet-pretrained backbone URL; building must not try to download it.
    cfg.model.pretrained = None
    return cfg


def build_model(cfg: Config) -> torch.nn.Module:
    from mmpose.models import build_posenet

    return build_posenet(cfg.model)


def load_strict(model: torch.nn.Module, checkpoint: str | Path) -> dict[str, Any]:
    """mmcv's own loader with strict=True: missing, unexpected or mis-shaped keys raise (reported by the caller)."""
    from mmcv.runner import load_checkpoint

    ckpt = load_checkpoint(model, str(checkpoint), map_location="cpu", strict=True, logger=None)
    return ckpt.get("meta", {}) if isinstance(ckpt, dict) else {}


def raw_forward(model: torch.nn.Module, img: torch.Tensor) -> list[torch.Tensor]:
    """Backbone + head, no test-time post-processing (`forward_dummy` of TopDown / AssociativeEmbedding).
    Returns the head's outputs in order: one tensor for top-down and AE, two for HigherHRNet."""
    out = model.forward_dummy(img)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def input_size_hw(cfg: Config) -> tuple[int, int]:
    """The config's training input size as (H, W); MMPose configs write (w, h) or a single int."""
    size = cfg.data_cfg["image_size"]
    if isinstance(size, int):
        return size, size
    w, h = size
    return int(h), int(w)


def to_jsonable(obj: Any) -> Any:
    """numpy/torch values to plain JSON types; float32 values become the float64 they exactly equal."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: Path, obj: Any, *, indent: int | None = 1) -> None:
    """Write atomically (temp file + rename), so a killed run never leaves a half-written file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_jsonable(obj), indent=indent) + "\n")
    tmp.replace(path)


def versions() -> dict[str, str]:
    import cv2
    import mmcv
    import torchvision

    # Plain str (torch.__version__ is a TorchVersion): a weights_only torch.load must accept the meta.
    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "torch": str(torch.__version__),
        "torchvision": str(torchvision.__version__),
        "opencv": cv2.__version__,
        "mmcv": mmcv.__version__,
        "mmpose": mmpose.__version__,
    }


def run_main(main) -> None:
    """Exit 2 with a one-line message on usage/data errors; everything else keeps its traceback."""
    try:
        sys.exit(main())
    except OracleScriptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
