#!/usr/bin/env python3
"""Compare two weights files tensor by tensor: whether a retrain reproduces the shipped weights.

    python scripts/compare_weights.py runs/pair_hard/model.safetensors \
        samosaic3d_core/checkpoints/samosaic3d_synth_sam.safetensors

Prints one line per group of tensors (``f2i.pair``, ``f2i.backbone``, ``i2s``...): how many of its
tensors differ and by how much at most, then ``identical`` or ``different``. Exit status 0 when
every tensor is bit for bit the same, 1 when any differs, 2 when the files hold other tensors or
one cannot be read.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from samosaic3d_core.errors import ModelFileError
from samosaic3d_core.model.checkpoint import read_tensors


def group_of(name: str) -> str:
    """``f2i.pair.mlp.0.weight`` -> ``f2i.pair``; ``i2s.scale`` -> ``i2s``."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "f2i" and len(parts) > 2 else parts[0]


def compare(a: dict, b: dict) -> dict[str, tuple[int, int, float]]:
    """Per group: (tensors, tensors that differ, largest absolute difference)."""
    groups: dict[str, list] = defaultdict(lambda: [0, 0, 0.0])
    for name in sorted(a):
        x, y = a[name], b[name]
        row = groups[group_of(name)]
        row[0] += 1
        if x.shape != y.shape or x.dtype != y.dtype:
            row[1] += 1
            row[2] = float("inf")
        elif not bool((x == y).all()):
            row[1] += 1
            row[2] = max(row[2], float((x.double() - y.double()).abs().max()))
    return {k: tuple(v) for k, v in groups.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    args = parser.parse_args(argv)
    for path in (args.first, args.second):
        if not path.is_file():
            parser.error(f"no weights file at {path}")
    try:
        a, b = read_tensors(args.first), read_tensors(args.second)
    except ModelFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    only = sorted(set(a) ^ set(b))
    if only:
        print(f"the files hold other tensors: {', '.join(only[:5])}{' ...' if len(only) > 5 else ''}")
        return 2
    differ = False
    for group, (count, changed, largest) in compare(a, b).items():
        differ |= changed > 0
        detail = f", largest difference {largest:.3g}" if changed else ""
        print(f"{group}: {changed} of {count} tensors differ{detail}")
    print("different" if differ else "identical")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
