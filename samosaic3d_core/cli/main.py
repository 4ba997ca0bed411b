"""``samosaic3d <command> [options]``: one entry point, subcommands loaded on demand.

A command is a module with ``add_arguments(parser)`` and ``run(args) -> int``, imported only when
its command is used, so ``samosaic3d --help`` stays fast. The core's own commands are listed in
``CORE_COMMANDS``. Other packages add theirs through the entry-point group ``samosaic3d.commands``
(``name = package.module`` in their setup.py; the module also sets ``HELP``, its one-line help, and
keeps its top-level imports light). The ROS package registers ``demo``, ``make-bag``,
``eval-bag``, ``segment-bag``, ``params`` and ``doctor`` that way, so the core command line never
names or imports ROS code.

A user's mistake ends in one line on stderr naming the flag or the file, never a traceback:
argparse rejects bad flags and values, and a command's ``OSError`` or ``ValueError`` (a missing or
unreadable file, a value out of range) is printed as ``samosaic3d <command>: <message>`` with exit
code 2. ``SAMOSAIC3D_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType

COMMAND_GROUP = "samosaic3d.commands"
DEBUG_VARIABLE = "SAMOSAIC3D_DEBUG"
"""Set (to anything) to get the traceback of a command's error instead of its one-line message."""

# name -> (module, one-line help)
CORE_COMMANDS: dict[str, tuple[str, str]] = {
    "make-data": ("samosaic3d_core.cli.make_data", "generate synthetic RGB-D scenes with ground truth"),
    "run": ("samosaic3d_core.cli.run", "run the online pipeline over scenes, write maps, evaluate"),
    "evaluate": ("samosaic3d_core.cli.evaluate", "ScanNet-protocol class-agnostic instance AP of saved maps"),
    "train": ("samosaic3d_core.cli.train", "train the Fragment-to-Instance model on RGB-D scenes"),
}


class CommandLoadError(Exception):
    """A registered command whose module cannot be imported or lacks ``HELP``/``add_arguments``/``run``."""


def registered_commands() -> dict[str, EntryPoint]:
    """Commands that installed packages declare under ``samosaic3d.commands``, by name.

    A name taken by a core command stays the core's. Sorted by name: package metadata keeps no order.
    """
    found = {ep.name: ep for ep in entry_points(group=COMMAND_GROUP) if ep.name not in CORE_COMMANDS}
    return dict(sorted(found.items()))


def load_command(entry: EntryPoint) -> ModuleType:
    """Import a registered command's module; ``CommandLoadError`` with one line saying what and how to fix."""
    dist = getattr(entry, "dist", None)
    origin = f"entry point '{entry.name} = {entry.value}' in group {COMMAND_GROUP}" + (
        f" of package {dist.name} {dist.version}" if dist is not None else "")
    try:
        module = entry.load()
    except Exception as exc:  # any import-time failure of a third-party module: report it, do not crash the CLI
        raise CommandLoadError(f"command '{entry.name}' ({origin}) cannot be loaded: {type(exc).__name__}: {exc}; "
                               "reinstall that package (pip install -e <its folder>) or uninstall it") from None
    missing = [name for name in ("HELP", "add_arguments", "run") if not hasattr(module, name)]
    if missing:
        raise CommandLoadError(f"command '{entry.name}' ({origin}) is not a command module: "
                               f"it lacks {', '.join(missing)}; fix or uninstall that package")
    return module


def _command_helps() -> dict[str, str]:
    """Every command's one-line help; a registered command that cannot be loaded is reported on stderr."""
    helps = {name: help_ for name, (_, help_) in CORE_COMMANDS.items()}
    for name, entry in registered_commands().items():
        try:
            helps[name] = str(load_command(entry).HELP)
        except CommandLoadError as exc:
            print(f"samosaic3d: {exc}", file=sys.stderr)
    return helps


def _usage() -> str:
    helps = _command_helps()
    width = max(len(name) for name in helps)
    lines = ["usage: samosaic3d <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, help_ in helps.items()]
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
    if name in CORE_COMMANDS:
        module_name, help_ = CORE_COMMANDS[name]
        module = importlib.import_module(module_name)
    elif name in (registered := registered_commands()):
        try:
            module = load_command(registered[name])
        except CommandLoadError as exc:
            print(f"samosaic3d: {exc}", file=sys.stderr)
            return 1
        help_ = str(module.HELP)
    else:
        print(f"{_usage()}\n\nsamosaic3d: unknown command '{name}' (commands of other packages appear once the "
              f"package that declares them under {COMMAND_GROUP} is installed)", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog=f"samosaic3d {name}", description=help_)
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except (OSError, ValueError) as exc:  # a file or a value the user gave: one line, no traceback
        if os.environ.get(DEBUG_VARIABLE):
            raise
        print(f"samosaic3d {name}: {one_line(exc)}", file=sys.stderr)
        return 2


def one_line(exc: BaseException) -> str:
    """The exception's message on one line (YAML and similar errors span several)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in text:
        text += f": {exc.filename}"
    return text or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
