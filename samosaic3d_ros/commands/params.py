"""``samosaic3d params``: the node's parameter file with every default, or the parameter reference."""

from __future__ import annotations

import argparse
import sys

HELP = "print the node's parameter file with every default (--describe: each parameter as ros2 param describe shows it)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--describe", action="store_true",
                        help="the parameter reference (docs/parameters.md) instead of the YAML file")


def run(args: argparse.Namespace) -> int:
    from samosaic3d_ros.params_file import default_parameters_yaml, parameters_reference

    sys.stdout.write(parameters_reference() if args.describe else default_parameters_yaml())
    return 0
