"""The flags that choose the segmenter of ``demo``, ``eval-bag`` and ``segment-bag``, over the node's
parameter file: ``--config``, ``--pipeline``, ``--masks``, ``--weights``."""

from __future__ import annotations

import argparse

PIPELINES = ("auto", "baseline", "learned")
MASK_SOURCES = ("oversegment", "fastsam", "sim", "oracle")  # samosaic3d_core.masks.MASK_SOURCES, without importing it


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="node parameter file (default: the package's config/samosaic3d.yaml)")
    parser.add_argument("--pipeline", choices=PIPELINES, help="override the parameter file's pipeline")
    parser.add_argument("--masks", choices=MASK_SOURCES,
                        help="override the mask source (sim and oracle read ground truth: not through the node)")
    parser.add_argument("--weights", help="FastSAM weights file for --masks fastsam (masks.fastsam.weights)")


def node_overrides(args: argparse.Namespace) -> dict:
    """Node parameters (ROS names) the flags set."""
    named = (("pipeline", args.pipeline), ("masks.source", args.masks), ("masks.fastsam.weights", args.weights))
    return {name: value for name, value in named if value}
