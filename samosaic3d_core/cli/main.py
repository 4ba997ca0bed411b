"""``samosaic3d <command> [options]``: one entry point, subcommands loaded on demand.

Each command module exposes ``add_arguments(parser)`` and ``run(args) -> int``; it is
imported only when its command is used, so ``samosaic3d --help`` stays fast and the
ROS-side commands import ROS only when they run.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "make-data": ("samosaic3d_core.cli.make_data", "generate synthetic RGB-D scenes with ground truth"),
    "run": ("samosaic3d_core.cli.run", "run the online pipeline over scenes, write maps, evaluate"),
    "evaluate": ("samosaic3d_core.cli.evaluate", "ScanNet-protocol class-agnostic instance AP of saved maps"),
    "demo": ("samosaic3d_ros.commands.demo", "generate a scene, segment it, score it and write a picture report"),
    "make-bag": ("samosaic3d_ros.commands.make_bag", "write a synthetic scene as a rosbag2 (mcap/sqlite3)"),
    "eval-bag": ("samosaic3d_ros.commands.eval_bag", "replay a bag into the node (or --offline) and score it"),
    "train": ("samosaic3d_core.cli.train", "train the Fragment-to-Instance model on RGB-D scenes"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: samosaic3d <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run 'samosaic3d <command> --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from samosaic3d_core import __version__

        print(__version__)
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"samosaic3d: unknown command '{name}'\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"samosaic3d {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
