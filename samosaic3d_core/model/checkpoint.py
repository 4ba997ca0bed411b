"""F2I weights on disk: one safetensors file whose metadata holds the model config as JSON.

A readable copy of the config is written next to it (``<name>.json``); loading reads the
metadata only, so the weights file alone is enough. No pickle anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open, save_file

from samosaic3d_core.io.atomic import atomic_path
from samosaic3d_core.model.f2i import F2IConfig, F2IModel

CONFIG_KEY = "f2i_config"


def save_f2i(path: str | Path, model: F2IModel, config: F2IConfig, extra: dict[str, str] | None = None) -> Path:
    """Write ``model``'s weights (and buffers) + ``config`` to ``path`` (.safetensors), atomically."""
    path = Path(path)
    metadata = {CONFIG_KEY: json.dumps(config.to_dict()), **(extra or {})}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    with atomic_path(path.with_suffix(".json")) as tmp:
        Path(tmp).write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    return path


def read_f2i_config(path: str | Path) -> F2IConfig:
    """The F2IConfig stored in a weights file's metadata."""
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    if CONFIG_KEY not in metadata:
        raise ValueError(f"{path}: no '{CONFIG_KEY}' in the safetensors metadata; not an F2I checkpoint written by save_f2i")
    return F2IConfig.from_dict(json.loads(metadata[CONFIG_KEY]))


def load_f2i(path: str | Path, device: str | torch.device = "cpu") -> tuple[F2IModel, F2IConfig]:
    """Model (eval mode, on ``device``) and config from a file written by ``save_f2i``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"F2I weights not found: {path}")
    try:
        config = read_f2i_config(path)
        tensors = load_file(str(path), device="cpu")
    except ValueError:
        raise
    except Exception as exc:  # safetensors raises its own error types for truncated / foreign files
        raise ValueError(f"{path}: not a readable safetensors checkpoint ({type(exc).__name__}: {exc})") from exc
    model = F2IModel.from_config(config)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ValueError(
            f"{path}: the weights do not fit the model config stored with them "
            f"({' '.join(first[:3])[:400]}); the file was edited or written by an incompatible version"
        ) from exc
    return model.to(device).eval(), config
