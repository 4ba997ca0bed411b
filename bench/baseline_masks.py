"""The baseline pipeline's AP with each mask source on a generated benchmark (the README table).

    python bench/baseline_masks.py [--scenes 4] [--frames 100] [--seed 1000] [--out out/bench/baseline_masks]

Scenes come from ``samosaic3d make-data`` (640x480, exact depth and poses); every frame is used.
FPS is the whole step (masks, lifting, frame model, association, memory) on this machine's CPU,
in this one run, so the rows compare with each other.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from common import HEADER, ensure_scenes, run_variant

from samosaic3d_core.pipeline import SegmenterConfig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("out/bench/baseline_masks"))
    args = parser.parse_args(argv)
    data = ensure_scenes(args.out / "data", args.scenes, args.frames, args.seed, 640, 480)
    rows = [run_variant(f"baseline + {masks}", SegmenterConfig.from_flat({"pipeline": "baseline", "masks.source": masks}), data, args.out)
            for masks in ("oracle", "sim", "oversegment")]
    lines = [f"Baseline pipeline, {args.scenes} scenes x {args.frames} frames, make-data --seed {args.seed}, 640x480, "
             f"{os.cpu_count()} CPU cores", "", HEADER, *(row.markdown() for row in rows)]
    table = "\n".join(lines)
    print(table)
    (args.out / "table.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
