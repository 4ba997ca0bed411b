"""Per-stage forward time of the F2I model at 5k / 10k / 20k points (markdown table, medians).

    python bench/bench_f2i_stages.py [--sizes 5000 10000 20000] [--repeats 7] [--threads 2]

Stages: voxelize (points -> sparse tensor), backbone (sparse U-Net + back to points), pooling
(fragment features), grouping (count, centers, A, W), decoder (all layers), heads (masks, boxes,
objectness of all layers); then the whole forward, the frame model (forward + turning
predictions into instances) and one training step (forward + loss + backward). Runs on the CPU,
and again on CUDA when torch sees a GPU (needs the spconv-cuXXX build matching torch's CUDA).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np
import torch

from samosaic3d_core.losses import LossConfig, f2i_loss, make_target
from samosaic3d_core.model.f2i import F2IConfig, F2IInput, F2IModel
from samosaic3d_core.model.frame_model import F2IFrameConfig, F2IFrameModel
from samosaic3d_core.model.pooling import fragment_geometry
from samosaic3d_core.types import Fragments, FramePoints


def room_points(n: int, seed: int = 0) -> tuple[FramePoints, int, np.ndarray]:
    """n points on the floor, two walls and 12 boxes of a 4 x 4 m room; fragments: boxes cut in
    2-3 by height, floor and walls cut in 1 m tiles. Returns points, M and instance ids (0 = room)."""
    rng = np.random.default_rng(seed)
    xyz = [np.c_[rng.uniform(0, 4, (n, 2)), np.zeros(n)], np.c_[rng.uniform(0, 4, n), np.zeros(n), rng.uniform(0, 2.5, n)],
           np.c_[np.zeros(n), rng.uniform(0, 4, n), rng.uniform(0, 2.5, n)]]
    ids = [np.zeros(n, int)] * 3
    parts = [np.floor(p[:, [0, 1]] if k == 0 else p[:, [k % 2, 2]]).astype(int) @ [1, 10] + 100 * k for k, p in enumerate(xyz)]
    for b in range(12):
        lo = np.r_[rng.uniform(0.3, 3.2, 2), 0.0]
        size = rng.uniform([0.3, 0.3, 0.4], [0.8, 0.8, 1.2])
        pts = lo + rng.uniform(0, 1, (n // 4, 3)) * size
        xyz.append(pts)
        ids.append(np.full(len(pts), b + 1))
        parts.append(1000 + 10 * b + (3 * (pts[:, 2] - lo[2]) / size[2]).astype(int) % rng.integers(2, 4))
    xyz, ids, parts = np.concatenate(xyz), np.concatenate(ids), np.concatenate(parts)
    keep = rng.choice(len(xyz), n, replace=False)
    _, fragment = np.unique(parts[keep], return_inverse=True)
    points = FramePoints(xyz[keep].astype(np.float32), rng.integers(0, 256, (n, 3)).astype(np.uint8), np.arange(n),
                         fragment.astype(np.int32))
    return points, int(fragment.max()) + 1, ids[keep]


def median_ms(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def bench(model: F2IModel, n: int, device: str, repeats: int) -> dict[str, float]:
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    points, m, ids = room_points(n)
    inp = F2IInput.from_points(points, m, device)
    batch = torch.zeros(n, dtype=torch.long, device=device)
    b, state = model.backbone, {}
    model.eval()

    def voxelize():
        state["vox"] = b.voxel_input(inp.xyz, inp.rgb, batch, 1)

    def backbone():
        state["feats"] = b.forward_voxels(*state["vox"])

    def pooling():
        state["geo"] = fragment_geometry(inp.xyz, inp.fragment, m, inp.rgb)
        state["frag"] = model.pooling(state["feats"], inp.fragment, m, state["geo"])

    def grouping():
        state["group"] = model.assembly(state["frag"])

    def decoder():
        g = state["group"]
        rel = inp.xyz - inp.xyz.mean(dim=0)
        state["queries"] = model.decoder(state["frag"], state["geo"][:, :3], state["feats"], rel, g.active_assign, g.affinity)

    def heads():
        mask_feats = model.heads.point_mask_features(state["feats"])
        return [model.heads(q, mask_feats) for q in state["queries"]]

    row = {}
    with torch.no_grad():
        for name, fn in (("voxelize", voxelize), ("backbone", backbone), ("pooling", pooling),
                         ("grouping", grouping), ("decoder", decoder), ("heads", heads)):
            row[name] = median_ms(fn, repeats, sync)
        row["forward"] = median_ms(lambda: model([inp]), repeats, sync)
        frame_model = F2IFrameModel(model, F2IFrameConfig(), device=device)
        fragments = Fragments(np.arange(m), *(np.zeros((m, 3), np.float32) for _ in range(3)), np.ones(m, np.int64),
                              np.ones(m, np.float32))
        row["frame model"] = median_ms(lambda: frame_model(None, points, fragments), repeats, sync)
    model.train()
    loss_config = LossConfig()
    target = make_target(ids, points.fragment, m, points.xyz, loss_config).to(device)

    def train_step():
        model.zero_grad()
        f2i_loss(model([inp], num_active=[target.count]), [target], loss_config).total.backward()

    row["train step"] = median_ms(train_step, repeats, sync)
    row["M"] = m
    row["N̂"] = state["group"].num_active
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000, 20000])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = F2IConfig()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"F2I default config: channels {config.backbone.channels}, C={config.backbone.out_channels}, "
          f"voxel {config.backbone.voxel_size} m, {config.decoder.num_layers} decoder layers, "
          f"N_max={config.assembly.max_instances}; torch threads {args.threads}; medians of {args.repeats} runs, ms\n")
    for device in devices:
        model = F2IModel.from_config(config).to(device)
        rows = {n: bench(model, n, device, args.repeats) for n in args.sizes}
        columns = list(next(iter(rows.values())))
        print(f"| {device} points | " + " | ".join(columns) + " |")
        print("|---" * (len(columns) + 1) + "|")
        for n, row in rows.items():
            cells = [f"{row[c]:.0f}" if isinstance(row[c], int) else f"{row[c]:.1f}" for c in columns]
            print(f"| {n} | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main()
