"""Scene styles of the synthetic generator: default unchanged, hard crowded, kitchen different."""

import json
import typing

import numpy as np
import pytest

from samosaic3d_core.cli import make_data
from samosaic3d_core.cli.main import main
from samosaic3d_core.data.synth import SynthConfig, generate_scene
from samosaic3d_core.data.synth.layout import furnish
from samosaic3d_core.data.synth.styles import STYLES, get_style

CATEGORIES = {"table", "chair", "desk", "monitor", "keyboard", "shelf", "book", "box", "sofa", "bed", "cabinet",
              "lamp", "plant", "cup", "bottle", "bowl", "counter", "refrigerator", "stool", "microwave"}

# furnish(SynthConfig(), default_rng([0, 0])): category and bounds (mm) of every object, as before styles existed
DEFAULT_SEED0 = [
    ("table", (2525, 1931, 0, 3476, 3480, 761)),
    ("chair", (2263, 2910, 0, 2711, 3358, 856)),
    ("chair", (2207, 2107, 0, 2631, 2530, 938)),
    ("chair", (3291, 2880, 0, 3721, 3311, 916)),
    ("book", (2765, 2423, 761, 2944, 2669, 801)),
    ("book", (2656, 3086, 761, 2835, 3332, 801)),
    ("desk", (4314, 1982, 0, 5071, 3346, 737)),
    ("monitor", (4871, 2286, 737, 5031, 2872, 1208)),
    ("keyboard", (4394, 2444, 737, 4534, 2884, 762)),
    ("chair", (4104, 2493, 0, 4586, 2975, 834)),
]


def _layout(style: str, seed: int):
    return furnish(SynthConfig(style=style), np.random.default_rng([seed, 0]))


def _side_by_side(objects, tol: float = 0.01) -> list[tuple[int, int]]:
    """Pairs of objects whose boxes overlap in height and are 0 to ``tol`` metres apart sideways."""
    bounds = [o.bounds() for o in objects]
    pairs = []
    for i, (lo_a, hi_a) in enumerate(bounds):
        for j in range(i + 1, len(bounds)):
            lo_b, hi_b = bounds[j]
            sep = np.maximum(lo_b - hi_a, lo_a - hi_b)
            if sep[2] < 0 and 0 <= max(sep[0], sep[1]) < tol:
                pairs.append((i, j))
    return pairs


def _against_wall(layout, tol: float = 0.01) -> int:
    sx, sy, _ = layout.size
    return sum(min(lo[0], lo[1], sx - hi[0], sy - hi[1]) < tol for lo, hi in (o.bounds() for o in layout.objects))


def test_default_style_is_the_layout_seeds_always_gave():
    assert SynthConfig().style == "default"
    layout = _layout("default", 0)
    got = [(o.category, tuple(int(v) for v in np.round(np.concatenate(o.bounds()) * 1000))) for o in layout.objects]
    assert got == DEFAULT_SEED0


@pytest.mark.parametrize("style", ["default", "hard", "kitchen"])
def test_each_style_gives_valid_frames_and_separate_instances(style):
    scene = generate_scene(SynthConfig(width=80, height=60, frames=3, style=style), 1)
    low, high = get_style(style).objects or (SynthConfig.min_objects, SynthConfig.max_objects)
    assert low <= len(scene.objects) <= high
    assert [o["instance_id"] for o in scene.objects] == list(range(1, len(scene.objects) + 1))
    assert {o["category"] for o in scene.objects} <= CATEGORIES
    part_to_instance = {p["part_id"]: o["instance_id"] for o in scene.objects for p in o["parts"]}
    assert len(part_to_instance) == sum(len(o["parts"]) for o in scene.objects)  # no part shared
    for frame in scene:
        frame.validate()
        for part in np.unique(frame.part_gt):
            assert np.all(frame.instance_gt[frame.part_gt == part] == part_to_instance.get(int(part), 0))


def test_hard_rooms_are_crowded_with_touching_same_coloured_neighbours():
    categories = set()
    for seed in range(3):
        hard, default = _layout("hard", seed), _layout("default", seed)
        objects = hard.objects
        assert 15 <= len(objects) <= 25
        pairs = _side_by_side(objects)
        assert len(pairs) > len(_side_by_side(default.objects))
        same = [(i, j) for i, j in pairs if np.array_equal(objects[i].parts[0].color, objects[j].parts[0].color)]
        assert same, f"seed {seed}: no touching neighbours of one colour"
        assert _against_wall(hard) > _against_wall(default) == 0  # default keeps 2-5 cm from the walls
        categories |= {o.category for o in objects}
    assert {"shelf", "table", "desk", "chair", "box", "book", "cup"} <= categories


def test_kitchen_rooms_have_counters_with_items_and_no_living_room_furniture():
    counts = []
    for seed in range(3):
        layout = _layout("kitchen", seed)
        categories = [o.category for o in layout.objects]
        assert "counter" in categories and not {"bed", "sofa", "desk"} & set(categories)
        counters = [o.bounds() for o in layout.objects if o.category == "counter"]
        items = [o.bounds()[0][2] for o in layout.objects if o.category in ("cup", "bowl", "bottle")]
        on_top = [z for z in items if any(abs(z - hi[2]) < 1e-6 for _, hi in counters)]
        assert on_top
        counts.append(len(layout.objects))
    assert max(counts) <= 22
    assert any(o.category in ("refrigerator", "stool") for seed in range(3) for o in _layout("kitchen", seed).objects)


def test_style_names_agree_and_an_unknown_one_is_refused(tmp_path, capsys):
    hints = typing.get_type_hints(SynthConfig)
    assert typing.get_args(hints["style"]) == make_data.STYLES == tuple(STYLES)
    with pytest.raises(ValueError, match="unknown scene style 'attic'; choose one of default, hard, kitchen"):
        furnish(SynthConfig(style="attic"), np.random.default_rng(0))
    with pytest.raises(SystemExit) as exc:
        main(["make-data", "--out", str(tmp_path), "--style", "attic"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --style: invalid choice: 'attic' (choose from 'default', 'hard', 'kitchen')" in err
    assert not any(tmp_path.iterdir())


def test_cli_writes_the_chosen_style(tmp_path):
    args = ["make-data", "--out", str(tmp_path), "--frames", "2", "--width", "32", "--height", "24", "--quiet"]
    assert main(args + ["--style", "kitchen"]) == 0
    meta = json.loads((tmp_path / "synth_s0_000" / "scene.json").read_text())
    assert meta["config"]["style"] == "kitchen"
    assert "counter" in {o["category"] for o in meta["objects"]}
    assert len(list((tmp_path / "synth_s0_000" / "color").glob("*.jpg"))) == 2
