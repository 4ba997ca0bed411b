"""``samosaic3d doctor``: what is installed and usable, and the fix for each missing piece.

One line per check: ``ok``, ``--`` (optional and absent: what then happens instead) or ``FAIL``
(needed and absent), with the fix. Exit code 0 when nothing needed is missing, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

HELP = "report what is installed and usable (torch and CUDA, spconv, ROS 2, built interfaces, weights) with fixes"

SPCONV_BUILDS = (((12, 6), "spconv-cu126"), ((12, 4), "spconv-cu124"), ((12, 1), "spconv-cu121"),
                 ((12, 0), "spconv-cu120"), ((11, 8), "spconv-cu118"))
"""The newest spconv build each CUDA runtime can run (the CUDA 12.6 build also runs on 13.x drivers)."""


def spconv_package(cuda: str) -> str | None:
    """The spconv package for torch's CUDA runtime version ``cuda`` ("12.8"), None if older than any build."""
    version = tuple(int(x) for x in cuda.split(".")[:2])
    return next((package for floor, package in SPCONV_BUILDS if version >= floor), None)


@dataclass
class Check:
    name: str
    status: str  # "ok", "--" (optional, absent), "FAIL" (needed, absent)
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<22} {self.detail}" + (f"\n      {'':<22} fix: {self.fix}" if self.fix else "")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="node parameter file whose mask source and weights to check "
                                         "(default: the package's config/samosaic3d.yaml)")


def _python() -> Check:
    ok = sys.version_info >= (3, 10)
    return Check("python", "ok" if ok else "FAIL", f"{platform.python_version()} ({sys.executable})",
                 "" if ok else "use Python 3.10 or newer")


def _torch() -> list[Check]:
    try:
        import torch
    except ImportError as exc:
        return [Check("torch", "FAIL", f"not importable ({exc})", "make setup (or pip install -r requirements/torch.txt)")]
    if torch.cuda.is_available():
        device = f"CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}"
    else:
        device = f"CPU only ({os.cpu_count()} cores)" + (f"; built for CUDA {torch.version.cuda}" if torch.version.cuda else "")
    checks = [Check("torch", "ok", f"{torch.__version__}, {device}")]
    try:
        import spconv
        from spconv.cppconstants import CPU_ONLY_BUILD
    except ImportError as exc:
        return checks + [Check("spconv", "FAIL", f"not importable ({exc})", "make setup (or pip install spconv)")]
    build = "CPU build" if CPU_ONLY_BUILD else "CUDA build"
    if torch.cuda.is_available() and CPU_ONLY_BUILD:
        wanted = spconv_package(torch.version.cuda or "0.0")
        fix = f"pip uninstall -y spconv cumm && pip install {wanted}" if wanted else "use a torch with CUDA >= 11.8"
        return checks + [Check("spconv", "FAIL", f"{spconv.__version__}, {build} but a GPU is there: the frame "
                                                 "model cannot use it", fix)]
    return checks + [Check("spconv", "ok", f"{spconv.__version__}, {build}")]


def _checkpoint() -> Check:
    from samosaic3d_core.model.checkpoint import is_samosaic3d_checkpoint, shipped_checkpoint

    path = shipped_checkpoint()
    if path is None:
        return Check("shipped weights", "--", "absent: pipeline auto runs the baseline",
                     "reinstall the package (its samosaic3d_core/checkpoints/ holds them)")
    sam = shipped_checkpoint("sim")
    try:
        kind = "F2I + I2S" if is_samosaic3d_checkpoint(path) else "F2I only"
        if sam != path:
            is_samosaic3d_checkpoint(sam)  # readable
    except ValueError as exc:
        return Check("shipped weights", "FAIL", str(exc), "reinstall the package")
    also = f"; for SAM-like masks (sim, fastsam, oracle): {sam}" if sam != path else ""
    return Check("shipped weights", "ok", f"{kind}: {path}{also}")


def _masks(config: str | None) -> list[Check]:
    from samosaic3d_ros.bag.replay import default_params_file
    from samosaic3d_ros.params import params_from_yaml

    path = config or default_params_file()
    try:
        masks = params_from_yaml(path).segmenter.masks
    except (OSError, ValueError) as exc:
        return [Check("parameter file", "FAIL", f"{path}: {exc}", "fix the file or pass another with --config")]
    checks = [Check("parameter file", "ok", f"{path} (mask source {masks.source})")]
    try:
        os.environ.setdefault("YOLO_OFFLINE", "1")
        import ultralytics

        checks.append(Check("ultralytics", "ok", f"{ultralytics.__version__} (for FastSAM)"))
    except ImportError as exc:
        status = "FAIL" if masks.source == "fastsam" else "--"
        checks.append(Check("ultralytics", status, f"not importable ({exc}); FastSAM masks unavailable",
                            "pip install ultralytics-opencv-headless"))
    weights = masks.fastsam.weights
    if not weights:
        status = "FAIL" if masks.source == "fastsam" else "--"
        checks.append(Check("FastSAM weights", status, "none set: the weight-free oversegment masks are used",
                            "download FastSAM-s.pt and set masks.fastsam.weights (and masks.source: fastsam)"))
    elif not Path(weights).expanduser().is_file():
        status = "FAIL" if masks.source == "fastsam" else "--"
        checks.append(Check("FastSAM weights", status, f"{weights}: no such file",
                            "fix masks.fastsam.weights in the parameter file"))
    else:
        checks.append(Check("FastSAM weights", "ok", str(weights)))
    return checks


def _open3d() -> Check:
    try:
        import open3d

        return Check("open3d", "ok", f"{open3d.__version__} (renders make-data scenes)")
    except ImportError as exc:
        fix = "apt install libusb-1.0-0" if "libusb" in str(exc) else "pip install open3d-cpu"
        return Check("open3d", "--", f"not importable ({exc}); make-data cannot render", fix)
    except OSError as exc:  # a missing shared library
        return Check("open3d", "--", f"cannot load ({exc}); make-data cannot render", "apt install libusb-1.0-0")


def _ros() -> list[Check]:
    from samosaic3d_ros.local_install import local_install

    try:
        import rclpy  # noqa: F401
    except ImportError as exc:
        return [Check("rclpy", "FAIL", f"not importable ({exc}); no node, demo or eval-bag",
                      "make setup (ROS 2 wheels), or source your ROS 2 install")]
    rmw = os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp (default)")
    checks = [Check("rclpy", "ok", f"RMW {rmw}, discovery {os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE', 'SUBNET')}")]
    for package in ("samosaic3d_msgs", "tf2_msgs", "vision_msgs"):
        try:
            module = importlib.import_module(f"{package}.msg")
            checks.append(Check(package, "ok", str(Path(module.__file__).parent.parent)))
        except ImportError:
            if local_install() is not None:
                checks.append(Check(package, "--", f"built in {local_install()} but not on this shell's paths "
                                                   "(demo, eval-bag and segment-bag restart themselves with it)",
                                    ". scripts/env.sh"))
            else:
                checks.append(Check(package, "FAIL", "not built", "make setup (or colcon build in a ROS 2 install)"))
    return checks


def run(args: argparse.Namespace) -> int:
    checks = [_python(), *_torch(), _checkpoint(), *_masks(args.config), _open3d(), *_ros()]
    for check in checks:
        print(check.line())
    failed = [c.name for c in checks if c.status == "FAIL"]
    print(f"\n{'missing: ' + ', '.join(failed) if failed else 'everything needed is usable'}")
    return 1 if failed else 0
