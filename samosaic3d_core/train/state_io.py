"""Training state (optimizer, scheduler, step, RNG) on disk without pickle.

The state is a tree of dicts, lists and scalars with tensors at the leaves. Tensors go into a
safetensors file under their path in the tree; the tree itself, with each tensor replaced by a
reference, goes into the file's metadata as JSON. Dict keys keep their type (optimizer states
are keyed by int parameter index), so ``load_state`` returns what ``save_state`` was given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, safe_open, save_file

from samosaic3d_core.io.atomic import atomic_path

TREE_KEY = "train_state"


def _encode(value: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        tensors[path] = value.detach().cpu().contiguous()
        return {"__tensor__": path}
    if isinstance(value, dict):
        return {"__dict__": [[k, _encode(v, f"{path}/{k}", tensors)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"__list__": [_encode(v, f"{path}/{i}", tensors) for i, v in enumerate(value)],
                "tuple": isinstance(value, tuple)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"training state at '{path}' holds a {type(value).__name__}, which cannot be stored")


def _decode(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(node, dict):
        if "__tensor__" in node:
            return tensors[node["__tensor__"]]
        if "__dict__" in node:
            return {k: _decode(v, tensors) for k, v in node["__dict__"]}
        if "__list__" in node:
            items = [_decode(v, tensors) for v in node["__list__"]]
            return tuple(items) if node.get("tuple") else items
    return node


def save_state(path: str | Path, state: dict) -> Path:
    """Write ``state`` to ``path`` (a .safetensors file), atomically."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state, "", tensors)
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={TREE_KEY: json.dumps(tree)})
    return path


def load_state(path: str | Path, device: str | torch.device = "cpu") -> dict:
    """Read a file written by ``save_state``; ValueError naming ``path`` if it is not one."""
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tree = json.loads(metadata[TREE_KEY])
        tensors = load_file(str(path), device=str(device))
    except Exception as exc:
        raise ValueError(f"{path}: not a training state file ({type(exc).__name__}: {exc})") from exc
    return _decode(tree, tensors)
