"""Test helper: saves a segmenter's state in a loop until killed (see test_save_kill.py).

    python save_loop_server.py TARGET

Builds two states (after one and after two frames of a small generated scene, baseline pipeline,
sim masks) and prints "ready". Then, per line on stdin:
    go        fork a child that saves state 1, state 2, state 1, ... onto TARGET until killed;
              print the child's pid
    reap PID  wait for that child; print "reaped"
"""

import os
import sys

from samosaic3d_core.data.synth import SynthConfig, generate_scene
from samosaic3d_core.pipeline import OnlineSegmenter

CONFIG = {"pipeline": "baseline", "masks.source": "sim"}


def states():
    from samosaic3d_core.pipeline import SegmenterConfig

    frames = list(generate_scene(SynthConfig(frames=2, width=160, height=120), seed=3))
    out = []
    for count in (1, 2):
        seg = OnlineSegmenter.from_config(SegmenterConfig.from_flat(CONFIG))
        for frame in frames[:count]:
            seg.step(frame)
        out.append(seg)
    return out


def main() -> None:
    target = sys.argv[1]
    first, second = states()
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.split()
        if command == ["go"]:
            pid = os.fork()
            if pid == 0:  # the child: save until killed
                while True:
                    first.save(target)
                    second.save(target)
            print(pid, flush=True)
        elif command[:1] == ["reap"]:
            os.waitpid(int(command[1]), 0)
            print("reaped", flush=True)


if __name__ == "__main__":
    main()
