"""A learned instance confidence (``MemoryConfig.confidence: learned``): the expected IoU of a map
instance with the object it stands for, from what the map shows of it.

The "support" confidence ranks instances by the evidence for them (voxels, observing frames, kept
surface, votes); what it cannot see is the shape of a piece. A shelf board, a table's pair of legs
or half a chair is a large, well-held instance, and it lies against the rest of its object. Seven
features per instance, none of which assumes a gravity direction or a scene scale beyond the voxel
grid:

    log voxels, log support confidence,
    log of the three principal extents (square roots of the covariance's eigenvalues, largest first),
    share of its voxels with a voxel of another instance among their 26 neighbours,
    log(1 + number of other instances it touches)

A logistic regression on the standardised features, fitted to the best IoU of the instances of
maps made on scenes the model weights never saw (``scripts/train_instance_scorer.py``), gives the
score. The fit lives in a small JSON file (``SHIPPED_SCORER``); docs/map_quality.md, "A learned
instance confidence", has how it was chosen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from samosaic3d_core.errors import ModelFileError, ModelFileMissing

SCORER_FORMAT = "samosaic3d-instance-scorer"
SCORER_VERSION = 1
SCORER_FEATURES = ("log_voxels", "log_support", "log_extent_1", "log_extent_2", "log_extent_3",
                   "border_share", "log_neighbours")
SHIPPED_SCORER = Path(__file__).resolve().parent / "checkpoints" / "instance_scorer.json"
"""The scorer that ships with the package (fitted on maps of the shipped weights)."""

_HALF_NEIGHBOURS = np.array([(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)
                             if (dx, dy, dz) > (0, 0, 0)], np.int64)
"""13 of the 26 neighbour offsets, one of each opposite pair: every touching pair of voxels is found once."""
_MIN_VARIANCE = 1e-6  # (1 mm)^2: a flat or one-voxel instance still has a finite log extent


def instance_features(xyz: np.ndarray, owner: np.ndarray, num_ids: int, voxel_size: float,
                      support: np.ndarray) -> np.ndarray:
    """(num_ids, 7) float64 features (``SCORER_FEATURES``) of ids 1..num_ids.

    xyz: (V, 3) map voxel positions (one point per voxel of ``voxel_size``); owner: (V,) id per voxel,
    0 = none; support: (num_ids,) the "support" confidence in (0, 1]. Ids without voxels get the
    features of an empty instance (log 0 voxels clipped to 0) and should not be reported.
    """
    owner = np.asarray(owner, np.int64)
    labelled = owner > 0
    pts, ids = np.asarray(xyz)[labelled].astype(np.float64), owner[labelled]
    count = np.bincount(ids, minlength=num_ids + 1)[1:].astype(np.float64)
    n = np.maximum(count, 1.0)
    mean = np.stack([np.bincount(ids, pts[:, a], minlength=num_ids + 1)[1:] for a in range(3)], 1) / n[:, None]
    centred = pts - mean[ids - 1]
    cov = np.empty((num_ids, 3, 3))
    for a in range(3):
        for b in range(a, 3):
            cov[:, a, b] = cov[:, b, a] = np.bincount(ids, centred[:, a] * centred[:, b], minlength=num_ids + 1)[1:] / n
    extents = 0.5 * np.log(np.maximum(np.linalg.eigvalsh(cov)[:, ::-1], _MIN_VARIANCE))

    border, touching = _borders(pts, ids, num_ids, voxel_size)
    return np.column_stack([
        np.log(n), np.log(np.clip(np.asarray(support, np.float64), 1e-4, 1.0)), extents,
        border / n, np.log1p(touching),
    ])


def _borders(pts: np.ndarray, ids: np.ndarray, num_ids: int, voxel_size: float) -> tuple[np.ndarray, np.ndarray]:
    """Per id: voxels with a 26-neighbour of another id, and how many other ids it touches."""
    border, touching = np.zeros(num_ids), np.zeros(num_ids)
    if len(pts) == 0:
        return border, touching
    coords = np.floor(pts / voxel_size).astype(np.int64)
    coords -= coords.min(axis=0) - 1  # >= 1, so every neighbour is >= 0
    span = int(coords.max()) + 2
    key = lambda c: (c[..., 0] * span + c[..., 1]) * span + c[..., 2]  # noqa: E731
    own_keys = key(coords)
    order = np.argsort(own_keys, kind="stable")
    sorted_keys, sorted_ids = own_keys[order], ids[order]
    neighbour_keys = key(coords[:, None, :] + _HALF_NEIGHBOURS[None])  # (L, 13)
    slot = np.minimum(np.searchsorted(sorted_keys, neighbour_keys), len(sorted_keys) - 1)
    other = np.where(sorted_keys[slot] == neighbour_keys, sorted_ids[slot], 0)  # (L, 13)
    rows, cols = np.nonzero((other > 0) & (other != ids[:, None]))
    if len(rows) == 0:
        return border, touching
    on_border = np.zeros(len(ids), bool)
    on_border[rows] = True
    on_border[order[slot[rows, cols]]] = True  # the neighbour touches back
    border += np.bincount(ids[on_border], minlength=num_ids + 1)[1:]
    a, b = ids[rows], other[rows, cols]
    pairs = np.unique(np.stack([np.minimum(a, b), np.maximum(a, b)], 1), axis=0)
    touching += np.bincount(pairs.reshape(-1), minlength=num_ids + 1)[1:]
    return border, touching


@dataclass(frozen=True)
class InstanceScorer:
    """A logistic regression over standardised ``SCORER_FEATURES``."""

    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: float
    voxel_size: float | None = None
    """The map grid (metres) of the maps it was fitted on; voxel counts and borders depend on it."""

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """(R,) float32 scores in (0, 1) of (R, 7) features."""
        logit = ((np.asarray(features, np.float64) - self.mean) / self.std) @ self.weights + self.bias
        return (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)

    def to_dict(self, **about) -> dict:
        return {"format": SCORER_FORMAT, "version": SCORER_VERSION, "features": list(SCORER_FEATURES),
                "mean": self.mean.tolist(), "std": self.std.tolist(), "weights": self.weights.tolist(),
                "bias": float(self.bias), "voxel_size": self.voxel_size, **about}

    @classmethod
    def from_dict(cls, data: dict, source: str = "scorer") -> "InstanceScorer":
        """ValueError naming ``source`` unless ``data`` is a scorer of this version over these features."""
        if not isinstance(data, dict) or data.get("format") != SCORER_FORMAT:
            raise ModelFileError(f"{source}: not an instance scorer (no \"format\": \"{SCORER_FORMAT}\")")
        if data.get("version") != SCORER_VERSION or tuple(data.get("features", ())) != SCORER_FEATURES:
            raise ModelFileError(f"{source}: instance scorer version {data.get('version')} over features "
                                 f"{data.get('features')}; this version reads {SCORER_VERSION} over {list(SCORER_FEATURES)}")
        try:
            arrays = [np.asarray(data[k], np.float64) for k in ("mean", "std", "weights")]
            bias = float(data["bias"])
            voxel_size = None if data.get("voxel_size") is None else float(data["voxel_size"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{source}: unreadable instance scorer ({type(exc).__name__}: {exc})") from exc
        if any(a.shape != (len(SCORER_FEATURES),) or not np.all(np.isfinite(a)) for a in arrays) \
                or not np.isfinite(bias) or np.any(arrays[1] <= 0):
            raise ModelFileError(f"{source}: instance scorer arrays must be {len(SCORER_FEATURES)} finite "
                                 "numbers each (std > 0)")
        return cls(*arrays, bias, voxel_size)


def load_scorer(path: str | Path | None = None) -> InstanceScorer:
    """The scorer in ``path`` (None or "": the shipped one)."""
    path = Path(path) if path else SHIPPED_SCORER
    if not path.is_file():
        raise ModelFileMissing(f"instance scorer not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: not a readable instance scorer ({exc})") from exc
    return InstanceScorer.from_dict(data, str(path))


def fit_scorer(features: np.ndarray, iou: np.ndarray, steps: int = 3000, lr: float = 0.01,
               weight_decay: float = 1e-3, seed: int = 0, voxel_size: float | None = None) -> InstanceScorer:
    """Logistic regression of ``iou`` (R,) in [0, 1] (a soft target) on ``features`` (R, 7), Adam, full batch."""
    import torch

    features, iou = np.asarray(features, np.float64), np.asarray(iou, np.float64)
    if features.ndim != 2 or features.shape[1] != len(SCORER_FEATURES) or len(features) != len(iou) or len(iou) < 2:
        raise ValueError(f"fit_scorer: need (R, {len(SCORER_FEATURES)}) features and (R,) targets with R >= 2, "
                         f"got {features.shape} and {iou.shape}")
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
    torch.manual_seed(seed)
    x = torch.tensor((features - mean) / std, dtype=torch.float32)
    y = torch.tensor(np.clip(iou, 0.0, 1.0), dtype=torch.float32)
    linear = torch.nn.Linear(x.shape[1], 1)
    optimizer = torch.optim.Adam(linear.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(linear(x).squeeze(-1), y).backward()
        optimizer.step()
    return InstanceScorer(mean, std, linear.weight.detach().double().numpy()[0], float(linear.bias.detach()),
                          voxel_size)
