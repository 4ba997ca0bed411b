"""Learning curve of a training run: loss terms and validation numbers against the step (PNG).

    python bench/plot_learning_curve.py runs/f2i --out docs/images/f2i_learning_curve.png
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_csv(path: Path) -> dict[str, list[float]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    rows.sort(key=lambda r: float(r["step"]))
    # a resumed run may have logged a step twice; keep the last row of each step
    by_step = {float(r["step"]): r for r in rows}
    keys = rows[0].keys() if rows else []
    return {k: [float(r[k]) for r in by_step.values()] for k in keys}


def smooth(values: list[float], k: int = 10) -> list[float]:
    out, acc = [], []
    for v in values:
        acc = (acc + [v])[-k:]
        out.append(sum(acc) / len(acc))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path, help="run directory with metrics.csv (and val_metrics.csv)")
    parser.add_argument("--out", type=Path, default=Path("docs/images/f2i_learning_curve.png"))
    parser.add_argument("--terms", nargs="+", default=["total", "mask_bce", "mask_dice", "box", "objectness", "count", "affinity"])
    args = parser.parse_args(argv)
    train = read_csv(args.run / "metrics.csv")
    val_path = args.run / "val_metrics.csv"
    val = read_csv(val_path) if val_path.is_file() else {}
    fig, axes = plt.subplots(1, 2 if val else 1, figsize=(11 if val else 6, 4), squeeze=False)
    ax = axes[0, 0]
    for term in args.terms:
        if term in train:
            ax.plot(train["step"], smooth(train[term]), label=term, lw=1.8 if term == "total" else 1.0)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (moving average of 10 logs)")
    ax.set_title(f"training loss ({args.run.name})")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if val:
        ax = axes[0, 1]
        for key in ("mean_iou", "recall50", "precision50", "count_acc"):
            if key in val:
                ax.plot(val["step"], val[key], marker="o", label=key)
        ax.set_xlabel("step")
        ax.set_ylim(0, 1)
        ax.set_title("validation (held-out scenes)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
