"""argparse value types that reject a bad number at the flag, with the flag named in the message."""

from __future__ import annotations

import argparse

MIN_IMAGE_SIDE = 16
"""Smallest image width or height the commands accept (pixels)."""


def at_least(minimum: int):
    """An argparse ``type``: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got '{text}'") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def positive_float(text: str) -> float:
    """An argparse ``type``: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


count = at_least(1)
"""Frames, scenes: at least one."""
image_side = at_least(MIN_IMAGE_SIDE)
"""Image width or height in pixels."""
