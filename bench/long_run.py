"""The long run: does the map keep one instance per object and clean labels over 1500 frames?

    python bench/long_run.py                     # 1 scene x 1500 frames, a curve point every 50 frames
    python bench/long_run.py --data /tmp/long --frames 60 --every 20 --ap-at 30 60 --out /tmp/long_run

Scene: ``samosaic3d make-data --out data/synth/long --scenes 1 --frames 1500 --seed 4242 --width 320
--height 240``, generated when ``--data`` holds no scene (otherwise its first scene is used, and it
must have at least ``--frames`` frames). Pipeline: the default learned one (the shipped weights)
with ``sim`` masks of the benchmarks' fixed seed; ``--config FILE`` and ``--set NAME=VALUE`` change
it as they do for ``samosaic3d run``.

Every ``--every`` frames (and at each ``--ap-at`` frame and the last) a row of ``curve.csv``: frames
processed so far, map instances alive, instances with points in the map, object instances and
objects (``instance_counts``: map instances on >= 100 scene points mostly on objects; ground-truth
objects), label noise, the identities the map has changed so far (``id_changes``: each time an
object is held by another map id than at the last row that had an owner for it, ``object_owners``;
a split or merge that moves an object to a new id counts, as it would for a robot tracking that
id), and the mean step time since the previous row; at the ``--ap-at`` frames also AP/AP50/AP25.
Ground truth is the scene points of all ``--frames`` frames, built before the run: the map at frame k
is scored against the whole scan although it has seen only its first k frames, so objects not seen
yet count as missed and an early AP is below the quality of what the map has seen; the object count
is that of the whole scan throughout.

Writes ``OUT/curve.csv``, ``OUT/summary.json`` (the last row's counts, their ratio to the objects, the
id changes and the objects renamed at least once, the AP at each ``--ap-at`` frame),
``OUT/instances_over_frames.png`` and the last map, ``OUT/<scene>.npz`` (as ``samosaic3d run`` writes
it: ``python bench/category_losses.py --data DATA --pred OUT --pieces`` lists its pieces); prints a
markdown summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

from common import MASK_SEED, ensure_scenes

from samosaic3d_core.cli.run import compose_config
from samosaic3d_core.data.scannet import SceneReader, list_scenes
from samosaic3d_core.eval import ApResult, EvalConfig, ap_entries, build_scene_points, evaluate_scenes, score_map
from samosaic3d_core.eval.map_quality import object_owners
from samosaic3d_core.io.scene_map import write_scene_map
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig
from samosaic3d_core.types import SceneMap

SCENE = {"frames": 1500, "seed": 4242, "width": 320, "height": 240}
"""The generated long scene (one scene)."""
COLUMNS = ("frame", "instances", "map_instances", "object_instances", "objects", "label_noise", "id_changes",
           "ms_per_frame", "AP", "AP50", "AP25")
"""The columns of curve.csv; the AP columns are empty where AP was not computed."""


def default_config() -> SegmenterConfig:
    """The learned pipeline with its defaults (shipped weights) and ``sim`` masks of ``MASK_SEED``."""
    return SegmenterConfig.from_dict({"pipeline": "learned", "masks": {"source": "sim", "sim": {"seed": MASK_SEED}}})


def checkpoints(frames: int, every: int, ap_at: list[int]) -> list[int]:
    """The frame counts that get a curve row: multiples of ``every``, the ``ap_at`` ones and the last."""
    if every < 1 or frames < 1:
        raise ValueError(f"--every and --frames must be >= 1, got {every} and {frames}")
    outside = [k for k in ap_at if not 1 <= k <= frames]
    if outside:
        raise ValueError(f"--ap-at {outside}: outside 1..{frames} (--frames)")
    return sorted({*range(every, frames + 1, every), *ap_at, frames})


def curve_row(frame: int, instances: int, quality: dict, ms_per_frame: float, ap: ApResult | None = None,
              id_changes: int = 0) -> dict:
    """One row of curve.csv.

    frame: frames processed; instances: map instances alive; quality: ``ScoredMap.quality`` (map_instances,
    label_noise, object_instances, objects); ms_per_frame: mean step time since the previous row;
    ap: the map's AP at this frame, or None (empty AP columns); id_changes: owner changes so far.
    """
    entries = ap_entries(ap) if ap is not None else dict.fromkeys(("AP", "AP50", "AP25"))
    row = {"frame": frame, "instances": instances, **quality, "id_changes": id_changes,
           "ms_per_frame": round(ms_per_frame, 1), **entries}
    return {name: row[name] for name in COLUMNS}


def owner_changes(before: dict[int, int], after: dict[int, int]) -> list[int]:
    """The objects held by one map id in ``before`` and by another in ``after`` (``object_owners``)."""
    return sorted(gt for gt, owner in after.items() if before.get(gt, owner) != owner)


def summarize(rows: list[dict], renamed: int | None = None) -> dict:
    """The counts of the last row, their ratios to the objects, and the AP of every row that has one;
    ``renamed``: objects whose id changed at least once."""
    last = rows[-1]
    objects = last["objects"]

    def per_object(count: int) -> float | None:
        return round(count / objects, 3) if objects else None

    return {
        "frames": last["frame"], "instances": last["instances"], "object_instances": last["object_instances"],
        "objects": objects, "instances_per_object": per_object(last["instances"]),
        "ratio": per_object(last["object_instances"]), "label_noise": last["label_noise"],
        "id_changes": last["id_changes"], "objects_renamed": renamed,
        "AP": {str(row["frame"]): {k: row[k] for k in ("AP", "AP50", "AP25")} for row in rows if row["AP"] is not None},
    }


def markdown(summary: dict, title: str) -> str:
    """A short markdown summary: the final counts, then the AP at each frame that has one."""
    lines = [title, "",
             "| frames | instances | object instances | objects | object instances / objects | label noise "
             "| id changes (objects) |",
             "|---:|---:|---:|---:|---:|---:|---:|",
             f"| {summary['frames']} | {summary['instances']} | {summary['object_instances']} | {summary['objects']} | "
             f"{summary['ratio']} | {summary['label_noise']:.4f} | {summary['id_changes']} "
             f"({summary['objects_renamed']}) |"]
    if summary["AP"]:
        lines += ["", "| frame | AP | AP50 | AP25 |", "|---:|---:|---:|---:|"]
        lines += [f"| {frame} | " + " | ".join(_percent(ap[k]) for k in ("AP", "AP50", "AP25")) + " |"
                  for frame, ap in summary["AP"].items()]
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def plot(rows: list[dict], path: Path, title: str) -> None:
    """Map instances alive and object instances against frames, with the ground-truth object count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = [row["frame"] for row in rows]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(frames, [row["instances"] for row in rows], marker=".", label="map instances (alive)")
    ax.plot(frames, [row["object_instances"] for row in rows], marker=".", label="object instances")
    objects = rows[-1]["objects"]
    ax.axhline(objects, color="black", linestyle="--", label=f"ground-truth objects ({objects})")
    ax.set(xlabel="frames processed", ylabel="instances", title=title)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def long_run(scene_dir: Path, config: SegmenterConfig, frames: int, stops: list[int],
             ap_at: set[int]) -> tuple[list[dict], int, SceneMap]:
    """Segment the first ``frames`` frames of ``scene_dir``; a curve row at each frame count in ``stops``,
    the number of objects whose id changed at least once, and the last map."""
    reader = SceneReader(scene_dir)
    if len(reader) < frames:
        raise ValueError(f"{scene_dir} has {len(reader)} frames, fewer than --frames {frames}")
    eval_config = EvalConfig()
    points = build_scene_points((reader[i] for i in range(frames)), eval_config)
    seg = OnlineSegmenter.from_config(config)
    voxel_size = config.memory.map_voxel_size
    rows, seconds, previous = [], 0.0, 0
    owners, changes, renamed = {}, 0, set()
    for i in range(frames):
        started = time.perf_counter()
        seg.step(reader[i])
        seconds += time.perf_counter() - started
        if i + 1 not in stops:
            continue
        scored = score_map(points, seg.map(), eval_config, reader.name)
        ap = evaluate_scenes([scored.eval_input], eval_config.min_region_size) if i + 1 in ap_at else None
        now = object_owners(scored.pred_ids, scored.gt_ids, eval_config.min_region_size)
        changed = owner_changes(owners, now)
        changes, owners = changes + len(changed), {**owners, **now}
        renamed.update(changed)
        rows.append(curve_row(i + 1, len(seg.instances()), scored.quality(voxel_size),
                              1000 * seconds / (i + 1 - previous), ap, changes))
        print(", ".join(f"{k} {v}" for k, v in rows[-1].items() if v is not None), file=sys.stderr, flush=True)
        seconds, previous = 0.0, i + 1
    return rows, len(renamed), seg.map()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/synth/long"),
                        help="folder of scenes; the long scene is generated there when it holds none")
    parser.add_argument("--frames", type=int, default=SCENE["frames"], help="frames to process (default 1500)")
    parser.add_argument("--every", type=int, default=50, help="a curve row every N frames (default 50)")
    parser.add_argument("--ap-at", type=int, nargs="+", default=[300, 1500], help="frames with AP (default 300 1500)")
    parser.add_argument("--config", type=Path, help="segmenter configuration (YAML, as for samosaic3d run)")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", default=[],
                        help="one setting by dotted name (repeatable; last wins)")
    parser.add_argument("--out", type=Path, default=Path("out/bench/long_run"))
    args = parser.parse_args(argv)
    try:
        stops = checkpoints(args.frames, args.every, args.ap_at)
        config = compose_config(args.config, {}, args.set, base=default_config())
    except ValueError as exc:
        raise SystemExit(f"long_run: {exc}") from exc
    data = ensure_scenes(args.data, 1, SCENE["frames"], SCENE["seed"], SCENE["width"], SCENE["height"])
    scene_dir = Path(list_scenes(data)[0])
    rows, renamed, last_map = long_run(scene_dir, config, args.frames, stops, set(args.ap_at))

    args.out.mkdir(parents=True, exist_ok=True)
    write_scene_map(args.out / f"{scene_dir.name}.npz", last_map)
    with open(args.out / "curve.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    summary = {"scene": scene_dir.name, "config": config.to_dict(), **summarize(rows, renamed)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    title = (f"Long run, {scene_dir.name} x {args.frames} frames, {config.pipeline} pipeline, "
             f"{config.masks.source} masks, {os.cpu_count()} CPU cores")
    plot(rows, args.out / "instances_over_frames.png",
         f"{scene_dir.name}, {config.pipeline}, {config.masks.source} masks")
    print(markdown(summary, title))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
