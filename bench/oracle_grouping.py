"""How far the frame model's grouping is from the best grouping of the same fragments.

    python bench/oracle_grouping.py data/synth/hard_val --out /tmp/oracle_grouping
    python bench/oracle_grouping.py data/synth/hard_test --masks sim --set masks.sim.seed=0

Maps every scene three times with the same fragments (`samosaic3d run` with its defaults, the
given mask source and ``--set`` overrides) and scores each map:

- ``baseline``: every fragment its own frame instance (``--pipeline baseline``);
- ``model``: the learned pipeline as it ships;
- ``oracle``: the learned pipeline with the frame model's grouping affinity replaced by the ground
  truth: two fragments have affinity 1 when most of their points lie on the same object, else 0
  (a fragment mostly on unlabelled points groups with none). Everything else (the model's
  instance queries and scores, the fill of points outside fragments, association, memory) is
  the learned pipeline's.

With ``--halves``, two more rows tell which half of the grouping costs the map: ``apart`` keeps the
model's affinity but sets it to 0 between fragments of different objects (no wrong joins), and
``join`` sets it to 1 between fragments of the same object and keeps the model's elsewhere (no
missed joins).

The oracle row is the ceiling of a better pair head or frame model with these fragments; what
it leaves below the oracle-mask maps is the fragments' own errors (a fragment across two objects)
and the map's. docs/map_quality.md, "The ceiling of grouping".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from common import frame_model_wrapped

from samosaic3d_core.cli.main import main as cli_main
from samosaic3d_core.train.pair import fragment_gt_ids


def oracle_affinity(owner: np.ndarray) -> np.ndarray:
    """(M, M) float32: 1 between fragments of the same object, else 0 (the pair stage's target).

    owner: (M,) majority ground-truth object of each fragment, 0 = none (``fragment_gt_ids``), which
    joins no other fragment.
    """
    same = (owner[:, None] == owner[None, :]) & (owner[:, None] > 0)
    np.fill_diagonal(same, True)
    return same.astype(np.float32)


MODES = ("oracle", "apart", "join")


def mixed_affinity(model_affinity: np.ndarray, truth: np.ndarray, mode: str) -> np.ndarray:
    """The grouping affinity of ``mode``: "oracle" the truth (``oracle_affinity``), "apart" the
    model's with pairs the truth keeps apart set to 0, "join" the model's with pairs the truth joins
    set to 1."""
    if mode == "oracle":
        return truth
    if mode == "apart":
        return np.where(truth > 0, model_affinity, 0.0).astype(np.float32)
    if mode == "join":
        return np.where(truth > 0, 1.0, model_affinity).astype(np.float32)
    raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


class _OracleModel:
    """Wraps an F2IModel: its predictions with the pair affinity of ``mixed_affinity``."""

    def __init__(self, model, owner: np.ndarray, mode: str):
        self.model, self.owner, self.mode = model, owner, mode
        self.backbone = model.backbone

    def __call__(self, inputs):
        pred = self.model(inputs)[0]
        truth = oracle_affinity(self.owner)
        affinity = mixed_affinity(pred.grouping_affinity.cpu().numpy(), truth, self.mode)
        return [dataclasses.replace(pred, pair_affinity=torch.as_tensor(affinity, device=pred.affinity.device))]


def oracle_grouping(mode: str = "oracle"):
    """Within the block, every F2IFrameModel groups fragments by the ground truth of the frame it
    segments (``mode``: all of it, or one half, as ``mixed_affinity``)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return frame_model_wrapped(lambda frame_model, frame, points, fragments: _OracleModel(
        frame_model.model, fragment_gt_ids(frame, points, len(fragments)), mode))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a folder of scenes with ground truth (make-data)")
    parser.add_argument("--out", type=Path, default=Path("out/bench/oracle_grouping"))
    parser.add_argument("--masks", default="sim", help="mask source (default sim)")
    parser.add_argument("--halves", action="store_true", help="also the rows apart and join")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="segmenter override")
    args = parser.parse_args()

    sets = [arg for setting in args.set for arg in ("--set", setting)]
    rows = {}
    for name in ("baseline", "model", "oracle") + (("apart", "join") if args.halves else ()):
        out = args.out / name
        pipeline = ["--pipeline", "baseline"] if name == "baseline" else []
        with oracle_grouping(name) if name in MODES else nullcontext():
            status = cli_main(["run", "--data", str(args.data), "--out", str(out), "--masks", args.masks, *pipeline, *sets])
        if status:
            raise SystemExit(f"oracle_grouping: the {name} run failed (exit {status})")
        metrics = json.loads((out / "metrics.json").read_text())
        rows[name] = metrics
    print(f"{'grouping':<10} {'AP':>6} {'AP50':>6} {'AP25':>6}  object instances / objects (mean per scene)")
    for name, metrics in rows.items():
        mean = metrics.get("mean", metrics)
        print(f"{name:<10} {100 * metrics['AP']:6.1f} {100 * metrics['AP50']:6.1f} {100 * metrics['AP25']:6.1f} "
              f" {mean.get('object_instances', float('nan')):.1f} / {mean.get('objects', float('nan')):.1f}")


if __name__ == "__main__":
    main()
