"""Scene styles of the synthetic generator: default unchanged, hard crowded, kitchen different."""

import numpy as np
import pytest

from samosaic3d_core.data.synth import SynthConfig
from samosaic3d_core.data.synth.layout import furnish

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


def test_default_style_is_the_layout_seeds_always_gave():
    assert SynthConfig().style == "default"
    layout = _layout("default", 0)
    got = [(o.category, tuple(int(v) for v in np.round(np.concatenate(o.bounds()) * 1000))) for o in layout.objects]
    assert got == DEFAULT_SEED0


def test_unknown_style_is_refused():
    with pytest.raises(ValueError, match="unknown scene style 'attic'; choose one of default"):
        furnish(SynthConfig(style="attic"), np.random.default_rng(0))
