"""Run by test_train under ``torchrun --nproc_per_node 2``: a 4-step CPU run on synthetic frames."""

import sys

from samosaic3d_core.losses import LossConfig
from samosaic3d_core.train.loop import TrainConfig, train
from test.core.test_model_f2i import TINY
from test.core.test_train import _samples

if __name__ == "__main__":
    config = TrainConfig(out_dir=sys.argv[1], steps=4, log_every=2, checkpoint_every=2, warmup_steps=2, device="cpu", threads=1)
    train(config, TINY, LossConfig(), _samples(4), progress=False)
