"""Weights on disk: one safetensors file whose metadata holds the model config(s) as JSON.

Two kinds of file:
  * F2I only (``save_f2i`` / ``load_f2i``): the frame model's tensors under their own names.
  * SAMosaic3D (``save_samosaic3d`` / ``load_samosaic3d``): the F2I tensors prefixed "f2i." and
    the I2S merger's prefixed "i2s.", with both configs in the metadata. ``load_f2i`` reads the
    F2I part of such a file too.

A readable copy of the config is written next to it (``<name>.json``); loading reads the
metadata only, so the weights file alone is enough. No pickle anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open, save_file

from samosaic3d_core.errors import ModelFileError, ModelFileMissing
from samosaic3d_core.io.atomic import atomic_path
from samosaic3d_core.model.f2i import F2IConfig, F2IModel
from samosaic3d_core.model.i2s import I2SConfig, I2SMerger

CONFIG_KEY = "f2i_config"

SHIPPED_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "samosaic3d_synth.safetensors"
"""The F2I + I2S weights that ship with the package (see docs/model_card.md)."""
SHIPPED_SAM_CHECKPOINT = SHIPPED_CHECKPOINT.with_name("samosaic3d_synth_sam.safetensors")
"""The same weights with a pair head trained on the default and hard scene families, for SAM-like
fragments (``SAM_LIKE_SOURCES``); the weight-free ``oversegment`` pieces group better with the
first file's head (docs/map_quality.md, "Pair head trained on the hard family")."""
SAM_LIKE_SOURCES = ("sim", "fastsam", "oracle")
"""Mask sources whose fragments are SAM-like (whole objects or large parts)."""


def shipped_checkpoint(mask_source: str | None = None) -> Path | None:
    """Path of the shipped weights for fragments of ``mask_source`` (None: the main file), or None
    when this installation has none. SAM-like sources take ``SHIPPED_SAM_CHECKPOINT`` when present."""
    if mask_source in SAM_LIKE_SOURCES and SHIPPED_SAM_CHECKPOINT.is_file():
        return SHIPPED_SAM_CHECKPOINT
    return SHIPPED_CHECKPOINT if SHIPPED_CHECKPOINT.is_file() else None


I2S_CONFIG_KEY = "i2s_config"
F2I_PREFIX, I2S_PREFIX = "f2i.", "i2s."


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
        raise ModelFileError(f"{path}: no '{CONFIG_KEY}' in the safetensors metadata; not an F2I checkpoint written by save_f2i")
    return F2IConfig.from_dict(json.loads(metadata[CONFIG_KEY]))


def _read_metadata(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise ModelFileMissing(f"weights not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for truncated / foreign files
        raise ModelFileError(f"{path}: not a readable safetensors checkpoint ({type(exc).__name__}: {exc})") from exc


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file (CPU); ModelFileError naming the file when it is unreadable."""
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:
        raise ModelFileError(f"{path}: not a readable safetensors checkpoint ({type(exc).__name__}: {exc})") from exc


def _fill(path: Path, module: torch.nn.Module, tensors: dict[str, torch.Tensor], what: str) -> None:
    """Load ``tensors`` into ``module``; ValueError naming the file when they do not fit."""
    try:
        module.load_state_dict(tensors)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ModelFileError(
            f"{path}: the {what} weights do not fit the model config stored with them "
            f"({' '.join(first[:3])[:400]}); the file was edited or written by an incompatible version"
        ) from exc


def is_samosaic3d_checkpoint(path: str | Path) -> bool:
    """True for a file written by ``save_samosaic3d`` (F2I + I2S), False for an F2I-only one."""
    return I2S_CONFIG_KEY in _read_metadata(Path(path))


def load_f2i(path: str | Path, device: str | torch.device = "cpu") -> tuple[F2IModel, F2IConfig]:
    """Model (eval mode, on ``device``) and config from a file written by ``save_f2i`` (or the F2I
    part of one written by ``save_samosaic3d``)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileMissing(f"F2I weights not found: {path}")
    metadata = _read_metadata(path)
    config = read_f2i_config(path)
    tensors = read_tensors(path)
    if I2S_CONFIG_KEY in metadata:
        tensors = {k[len(F2I_PREFIX):]: v for k, v in tensors.items() if k.startswith(F2I_PREFIX)}
    model = F2IModel.from_config(config)
    _fill(path, model, tensors, "F2I")
    return model.to(device).eval(), config


def save_samosaic3d(
    path: str | Path, f2i: F2IModel, f2i_config: F2IConfig, i2s: I2SMerger, i2s_config: I2SConfig,
    extra: dict[str, str] | None = None,
) -> Path:
    """Write the frame model and the merger to one file (tensors prefixed "f2i." / "i2s."), atomically."""
    path = Path(path)
    metadata = {CONFIG_KEY: json.dumps(f2i_config.to_dict()), I2S_CONFIG_KEY: json.dumps(i2s_config.to_dict()),
                **(extra or {})}
    tensors = {F2I_PREFIX + k: v.detach().cpu().contiguous() for k, v in f2i.state_dict().items()}
    tensors.update({I2S_PREFIX + k: v.detach().cpu().contiguous() for k, v in i2s.state_dict().items()})
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    with atomic_path(path.with_suffix(".json")) as tmp:
        Path(tmp).write_text(json.dumps({"f2i": f2i_config.to_dict(), "i2s": i2s_config.to_dict()}, indent=2) + "\n")
    return path


def load_samosaic3d(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[F2IModel, F2IConfig, I2SMerger, I2SConfig]:
    """Both models (eval mode, on ``device``) and their configs from a file written by ``save_samosaic3d``.

    Raises ValueError naming the file if it is not one (e.g. an F2I-only checkpoint), if its
    configs are unreadable, if the merger's feature width differs from the F2I query width, or if
    the weights do not fit the configs.
    """
    path = Path(path)
    metadata = _read_metadata(path)
    for key in (CONFIG_KEY, I2S_CONFIG_KEY):
        if key not in metadata:
            raise ModelFileError(f"{path}: no '{key}' in the safetensors metadata; not a SAMosaic3D checkpoint "
                             "written by save_samosaic3d (an F2I-only file needs merging='heuristic' or 'untrained')")
    try:
        f2i_config = F2IConfig.from_dict(json.loads(metadata[CONFIG_KEY]))
        i2s_config = I2SConfig.from_dict(json.loads(metadata[I2S_CONFIG_KEY]))
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: unreadable model config in the metadata ({exc})") from exc
    if i2s_config.feat_dim != f2i_config.backbone.out_channels:
        raise ModelFileError(f"{path}: the I2S merger reads {i2s_config.feat_dim}-d features but the F2I queries are "
                         f"{f2i_config.backbone.out_channels}-d; the file mixes incompatible models")
    tensors = read_tensors(path)
    f2i, i2s = F2IModel.from_config(f2i_config), I2SMerger(i2s_config)
    for module, prefix, what in ((f2i, F2I_PREFIX, "F2I"), (i2s, I2S_PREFIX, "I2S")):
        _fill(path, module, {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, what)
    return f2i.to(device).eval(), f2i_config, i2s.to(device).eval(), i2s_config
