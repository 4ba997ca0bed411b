"""Every command, given a user's mistake, ends in one line on stderr naming the flag or the file:
no traceback, a non-zero exit code. ``python -m test.ros.test_bad_arguments`` prints the table."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest

from samosaic3d_core.cli.main import main

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("ros_commands")  # the commands this checkout's setup.py registers


# (command line, what the last stderr line must contain)
CASES = [
    ("run --data /nonexistent --out {tmp}/o", "/nonexistent: not a folder"),
    ("run --data {data} --out {tmp}/o --set lift.nonexistent=3", "--set: unknown key 'lift.nonexistent'"),
    ("run --data {data} --out {tmp}/o --set lift.voxel_size=abc", "'lift.voxel_size' must be float, got 'abc'"),
    ("run --data {data} --out {tmp}/o --set novalue", "--set 'novalue': expected NAME=VALUE"),
    ("run --data {data} --out {tmp}/o --config /nonexistent.yaml", "--config /nonexistent.yaml: cannot read it"),
    ("run --data {data} --out {tmp}/o --config {tmp}/broken.yaml", "--config {tmp}/broken.yaml: cannot read it"),
    ("run --data {data} --out {tmp}/o --masks fastsam", "needs a weights file (--weights PATH"),
    ("run --data {data} --out {tmp}/o --masks fastsam --weights /nonexistent.pt", "weights not found: /nonexistent.pt"),
    ("run --data {data} --out {tmp}/o --checkpoint /nonexistent.safetensors", "not found: /nonexistent.safetensors"),
    ("run --data {data} --out {tmp}/o --checkpoint {tmp}/not_a_bag.txt", "not_a_bag.txt: not a readable safetensors"),
    ("run --data {data} --out {tmp}/o --device tpu", "device='tpu'; expected auto, cpu, cuda"),
    ("run --data {data} --out {tmp}/o --masks nosuch", "argument --masks: invalid choice: 'nosuch'"),
    ("evaluate --data /nonexistent --pred {tmp}", "/nonexistent: not a folder"),
    ("evaluate --data {data} --pred /nonexistent", "expected /nonexistent/"),
    ("make-data --out {tmp}/d --scenes 0", "argument --scenes: must be >= 1, got 0"),
    ("make-data --out {tmp}/d --width 0", "argument --width: must be >= 16, got 0"),
    ("make-data --out {tmp}/d --frames two", "argument --frames: expected an integer, got 'two'"),
    ("train --stage f2i --config /nonexistent.yaml", "cannot read config /nonexistent.yaml"),
    ("train --stage pair --config config/train_pair.yaml", "give --init F2I_WEIGHTS.safetensors"),
    ("train --stage f2i --data /nonexistent", "/nonexistent: not a folder"),
    ("eval-bag /nonexistent --offline", "bag '/nonexistent' does not exist"),
    ("eval-bag {tmp}/not_a_bag.txt --offline", "'{tmp}/not_a_bag.txt' is not a readable rosbag2 folder"),
    ("eval-bag {tmp}/not_a_bag.txt", "'{tmp}/not_a_bag.txt' is not a readable rosbag2 folder"),
    ("eval-bag {tmp}/empty_folder --offline", "'{tmp}/empty_folder' is not a readable rosbag2 folder"),
    ("eval-bag {tmp}/any --offline --config /nonexistent.yaml", "cannot read parameter file '/nonexistent.yaml'"),
    ("segment-bag /nonexistent --out {tmp}/o", "bag '/nonexistent' does not exist"),
    ("segment-bag {tmp}/not_a_bag.txt --out {tmp}/o", "'{tmp}/not_a_bag.txt' is not a readable rosbag2 folder"),
    ("segment-bag {tmp}/any --out {tmp}/o --max-frames 0", "argument --max-frames: must be >= 1, got 0"),
    ("segment-bag {tmp}/any --out {tmp}/o --node --masks oracle", "--masks oracle reads ground truth"),
    ("eval-bag {bag} --offline --masks fastsam", "needs a weights file (--weights PATH"),
    ("eval-bag {bag} --offline --masks fastsam --weights /nonexistent.pt", "weights not found: /nonexistent.pt"),
    ("eval-bag {bag} --offline --masks nosuch", "argument --masks: invalid choice: 'nosuch'"),
    ("segment-bag {bag} --out {tmp}/s --masks fastsam --weights /nonexistent.pt", "weights not found: /nonexistent.pt"),
    ("segment-bag {bag} --out {tmp}/s --depth-topic /nosuch", "/nosuch"),
    ("make-bag --out {bag} --frames 2", "{bag}"),
    ("make-bag --out {tmp}/b --frames 0", "argument --frames: must be >= 1, got 0"),
    ("demo --out {tmp}/demo --frames 0", "argument --frames: must be >= 1, got 0"),
    ("demo --out {tmp}/demo --pipeline nosuch", "argument --pipeline: invalid choice: 'nosuch'"),
    ("nosuch-command", "unknown command 'nosuch-command'"),
]


def prepare(tmp: Path) -> dict[str, str]:
    """The files the cases name: a tiny scene folder and bag, a text file, an empty folder, broken YAML."""
    from samosaic3d_core.data.synth import SynthConfig, generate_scene
    from samosaic3d_core.data.synth.writer import write_scene

    data = tmp / "data"
    if not data.exists():
        write_scene(generate_scene(SynthConfig(frames=2, width=32, height=24), seed=0), data, progress=False)
    bag = tmp / "bag"
    if not bag.exists():
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert main(["make-bag", "--out", str(bag), "--frames", "2", "--width", "32", "--height", "24"]) == 0
    (tmp / "not_a_bag.txt").write_text("not a bag\n")
    (tmp / "empty_folder").mkdir(exist_ok=True)
    (tmp / "broken.yaml").write_text("a: [\n")
    return {"tmp": str(tmp), "data": str(data), "bag": str(bag)}


def run_case(line: str) -> tuple[int, str]:
    """(exit code, stderr) of ``samosaic3d <line>`` run in this process."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(line.split())
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
            if not isinstance(exit_.code, int) and exit_.code is not None:
                print(exit_.code, file=sys.stderr)
    return code, stderr.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return prepare(tmp_path_factory.mktemp("bad_arguments"))


@pytest.mark.parametrize("line,expected", CASES, ids=[c[0].split(" --out")[0][:60] for c in CASES])
def test_a_mistake_ends_in_one_line_naming_it(files, monkeypatch, line, expected):
    monkeypatch.chdir(REPO)
    code, stderr = run_case(line.format(**files))
    lines = stderr.strip().splitlines()
    assert code != 0 and lines, stderr
    assert "Traceback" not in stderr, stderr
    assert expected.format(**files) in lines[-1], stderr


if __name__ == "__main__":  # the table of docs/robot_stack.md
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        names = prepare(Path(folder))
        shorthands = {names["bag"]: "BAG", names["data"]: "DATA", folder: "TMP"}
        print("| command | mistake | last line on stderr |\n|---|---|---|")
        for line, _ in CASES:
            code, stderr = run_case(line.format(**names))
            shown = stderr.strip().splitlines()[-1] if stderr.strip() else "(nothing)"
            command = line.format(**names)
            for path, shorthand in shorthands.items():
                shown, command = shown.replace(path, shorthand), command.replace(path, shorthand)
            words = command.split()
            print(f"| {words[0]} | `{' '.join(words[1:])}` | `{shown}` (exit {code}) |")
