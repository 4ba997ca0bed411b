"""How often two touching fragments that the pair head scores p lie on one object.

    python bench/pair_calibration.py data/synth/hard_val --set masks.sim.seed=0
    python bench/pair_calibration.py data/synth/val8 --masks sim --radius 0.03 --out /tmp/calibration

Maps the scenes with ``samosaic3d run`` (its defaults, the given mask source and ``--set``
overrides) and records, in every frame, each pair of fragments whose points come within
``--radius`` of each other: the frame model's grouping affinity between them (the pair head's
probability), and whether the two lie mostly on one ground-truth object, and on one part of it.
Prints the share of pairs on one object per probability bin, and per kind of pair (pieces of one
part, parts of one object, two objects) the mean probability and the share above the grouping
threshold. Writes ``calibration.json`` under ``--out``.

A join rule or a lower threshold is worth what its pairs' share on one object says: on the hard
family, a wrong join costs a map more than a missed one gains (docs/map_quality.md, "What the
missed joins would need").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from common import frame_model_wrapped
from scipy.spatial import cKDTree

from samosaic3d_core.cli.main import main as cli_main
from samosaic3d_core.train.pair import fragment_gt_ids, fragment_majority

BINS = (0.0, 0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 1.0)
KINDS = ("one part", "parts of one object", "two objects")


def touching_pairs(xyz: np.ndarray, fragment: np.ndarray, radius: float) -> np.ndarray:
    """(P, 2) int64 fragment pairs i < j with a point of each within ``radius`` (metres) of each
    other; fragment: (N,) index per point, -1 = none."""
    member = np.flatnonzero(fragment >= 0)
    if len(member) < 2:
        return np.zeros((0, 2), np.int64)
    near = cKDTree(xyz[member]).query_pairs(radius, output_type="ndarray")
    a, b = fragment[member[near[:, 0]]], fragment[member[near[:, 1]]]
    apart = a != b
    pairs = np.stack([np.minimum(a, b)[apart], np.maximum(a, b)[apart]], 1).astype(np.int64)
    return np.unique(pairs, axis=0) if len(pairs) else np.zeros((0, 2), np.int64)


def pair_kinds(owner: np.ndarray, part: np.ndarray | None, pairs: np.ndarray) -> np.ndarray:
    """(P,) int index into ``KINDS`` of each pair, -1 where a fragment lies on no object.

    owner / part: (M,) majority ground-truth object / part of each fragment (0 = none); without part
    images every pair on one object counts as "parts of one object"."""
    i, j = pairs[:, 0], pairs[:, 1]
    kind = np.where(owner[i] == owner[j], 1, 2)
    if part is not None:
        kind = np.where((kind == 1) & (part[i] == part[j]) & (part[i] > 0), 0, kind)
    return np.where((owner[i] > 0) & (owner[j] > 0), kind, -1)


def calibration(prob: np.ndarray, same: np.ndarray, bins=BINS) -> list[dict]:
    """Per probability bin [lo, hi) (the last one closed): pairs, and the share on one object."""
    rows = []
    for n, (lo, hi) in enumerate(zip(bins[:-1], bins[1:])):
        inside = (prob >= lo) & ((prob < hi) if n < len(bins) - 2 else (prob <= hi))
        share = float(same[inside].mean()) if inside.any() else float("nan")
        rows.append({"low": lo, "high": hi, "pairs": int(inside.sum()), "one_object": share})
    return rows


class PairRecorder:
    """Collects the touching fragment pairs of every frame the frame model segments (``record``)."""

    def __init__(self, radius: float):
        self.radius = radius
        self.prob: list[np.ndarray] = []
        self.kind: list[np.ndarray] = []
        self.threshold: float | None = None

    def add(self, affinity: np.ndarray, owner: np.ndarray, part: np.ndarray | None, points) -> None:
        pairs = touching_pairs(points.xyz, points.fragment, self.radius)
        kind = pair_kinds(owner, part, pairs)
        keep = kind >= 0
        i, j = pairs[keep, 0], pairs[keep, 1]
        self.prob.append(0.5 * (affinity[i, j] + affinity[j, i]))
        self.kind.append(kind[keep])

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(P,) probabilities and (P,) kinds of every recorded pair."""
        if not self.prob:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        return np.concatenate(self.prob), np.concatenate(self.kind)

    def record(self):
        """Within the block, every F2IFrameModel's frames add their touching pairs."""
        recorder = self

        class Recording:
            def __init__(self, model, frame, points, num_fragments):
                self.model, self.frame, self.points, self.m = model, frame, points, num_fragments
                self.backbone = model.backbone

            def __call__(self, inputs):
                preds = self.model(inputs)
                owner = fragment_gt_ids(self.frame, self.points, self.m)
                part = None if self.frame.part_gt is None else fragment_majority(self.frame.part_gt, self.points, self.m)
                recorder.add(preds[0].grouping_affinity.cpu().numpy(), owner, part, self.points)
                return preds

        def wrap(frame_model, frame, points, fragments):
            recorder.threshold = frame_model.config.group_threshold
            return Recording(frame_model.model, frame, points, len(fragments))

        return frame_model_wrapped(wrap)


def summary(prob: np.ndarray, kind: np.ndarray, threshold: float) -> dict:
    same = kind < 2
    by_kind = {}
    for k, name in enumerate(KINDS):
        sel = kind == k
        by_kind[name] = {"pairs": int(sel.sum()),
                         "mean_probability": float(prob[sel].mean()) if sel.any() else float("nan"),
                         "above_threshold": float((prob[sel] > threshold).mean()) if sel.any() else float("nan")}
    return {"threshold": threshold, "pairs": int(len(prob)), "bins": calibration(prob, same), "kinds": by_kind}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a folder of scenes with ground truth (make-data)")
    parser.add_argument("--out", type=Path, default=Path("out/bench/pair_calibration"))
    parser.add_argument("--masks", default="sim", help="mask source (default sim)")
    parser.add_argument("--radius", type=float, default=0.03, help="metres within which two fragments touch (default 0.03)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="segmenter override")
    args = parser.parse_args()

    sets = [arg for setting in args.set for arg in ("--set", setting)]
    recorder = PairRecorder(args.radius)
    with recorder.record():
        status = cli_main(["run", "--data", str(args.data), "--out", str(args.out / "run"), "--masks", args.masks, *sets])
    if status:
        raise SystemExit(f"pair_calibration: the run failed (exit {status})")
    if recorder.threshold is None:
        raise SystemExit("pair_calibration: no frame went through a learned frame model (is --pipeline baseline set?)")
    prob, kind = recorder.arrays()
    result = summary(prob, kind, recorder.threshold)
    print(f"touching fragment pairs (within {args.radius} m): {result['pairs']}")
    print(f"{'pair head probability':<22} {'pairs':>6} {'on one object':>14}")
    for row in result["bins"]:
        print(f"[{row['low']:.1f}, {row['high']:.1f}){'':<12} {row['pairs']:6d} {row['one_object']:14.2f}")
    print(f"{'kind':<22} {'pairs':>6} {'mean p':>7} {'p > ' + format(result['threshold'], '.2f'):>9}")
    for name, row in result["kinds"].items():
        print(f"{name:<22} {row['pairs']:6d} {row['mean_probability']:7.2f} {row['above_threshold']:9.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "calibration.json").write_text(json.dumps({**result, "radius": args.radius}, indent=1) + "\n")


if __name__ == "__main__":
    main()
