"""``samosaic3d``'s commands: the core's own, plus those other packages register as entry points."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from samosaic3d_core.cli.main import COMMAND_GROUP, CORE_COMMANDS, main
from test.core.dist_info import write_dist_info

REPO = Path(__file__).resolve().parents[2]
ROS_MODULES = ("samosaic3d_ros", "rclpy")

HELLO = '''
HELP = "greet someone"

def add_arguments(parser):
    parser.add_argument("--name", required=True)

def run(args):
    print(f"hello {args.name}")
    return 3
'''

# in a fresh interpreter: imports of the ROS package (and rclpy) fail, as where it is not installed
WITHOUT_ROS = f"ROS_MODULES = {ROS_MODULES!r}\n" + '''
import importlib.abc, sys

class NoRos(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ROS_MODULES:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoRos())
from samosaic3d_core.cli.main import main

print("help rc", main(["--help"]))
print("make-data rc", main(["make-data", "--out", sys.argv[1], "--frames", "2", "--width", "32", "--height", "24",
                            "--quiet"]))
print("loaded", sorted(m for m in sys.modules if m.split(".")[0] in ROS_MODULES))
'''


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """Register ``samosaic3d.commands`` entry points of a throwaway package; yields a function taking the lines."""
    modules = []

    def register(lines: list[str], sources: dict[str, str]) -> None:
        for module, source in sources.items():
            (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
            modules.append(module)
        write_dist_info(tmp_path, "samosaic3d_plugin_test", "0.0.1", {COMMAND_GROUP: lines})
        monkeypatch.syspath_prepend(str(tmp_path))

    yield register
    for module in modules:
        sys.modules.pop(module, None)


def test_core_runs_where_the_ros_package_is_absent(tmp_path):
    out = tmp_path / "data"
    proc = subprocess.run([sys.executable, "-c", WITHOUT_ROS, str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "usage: samosaic3d <command> [options]"
    listed = [line.split()[0] for line in lines[lines.index("commands:") + 1:] if line.startswith("  ")]
    assert listed[:len(CORE_COMMANDS)] == list(CORE_COMMANDS)
    assert "help rc 0" in lines and "make-data rc 0" in lines and lines[-1] == "loaded []"
    assert len(list(out.glob("synth_s0_000/color/*"))) == 2
    # installed ROS commands cannot load here: one line each, no traceback
    assert "Traceback" not in proc.stderr
    assert all("cannot be loaded: ModuleNotFoundError" in line for line in proc.stderr.splitlines()), proc.stderr


def ros_module_names(path: Path) -> list[str]:
    """Imported modules and string literals (docstrings aside) in ``path`` that name a ROS module."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            names.append(node.value)
    return [name for name in names if name.split(".")[0] in ROS_MODULES]


def test_the_core_names_no_ros_module():
    named = {str(path.relative_to(REPO)): ros_module_names(path) for path in (REPO / "samosaic3d_core").rglob("*.py")}
    assert {path: names for path, names in named.items() if names} == {}
    assert "samosaic3d_ros.bag.replay" in ros_module_names(REPO / "samosaic3d_ros" / "commands" / "demo.py")


def test_a_registered_entry_point_is_a_command(plugins, capsys):
    plugins(["hello = hello_cmd", "run = hello_cmd"], {"hello_cmd": HELLO})
    assert main(["--help"]) == 0
    listed = [line.split(None, 1) for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert ["hello", "greet someone"] in [[name, help_.strip()] for name, help_ in listed]
    assert [name for name, _ in listed].count("run") == 1  # a core command keeps its name
    assert main(["hello", "--name", "map"]) == 3
    assert capsys.readouterr().out == "hello map\n"


@pytest.mark.parametrize("line, source, expected", [
    ("broken = no_such_module_xyz", None,
     "cannot be loaded: ModuleNotFoundError: No module named 'no_such_module_xyz'; reinstall that package"),
    ("broken = raises_cmd", "raise RuntimeError('needs a GPU')", "cannot be loaded: RuntimeError: needs a GPU;"),
    ("broken = partial_cmd", "HELP = 'half a command'", "is not a command module: it lacks add_arguments, run;"),
])
def test_a_broken_entry_point_gives_one_clear_line(plugins, capsys, line, source, expected):
    plugins([line], {line.split("= ")[1]: source} if source else {})
    assert main(["broken"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"samosaic3d: command 'broken' (entry point '{line}' in group samosaic3d.commands "
                                   "of package samosaic3d_plugin_test 0.0.1) ")
    assert expected in captured.err and captured.err.count("\n") == 1
    assert main(["--help"]) == 0  # the other commands are still listed; the broken one is reported once
    captured = capsys.readouterr()
    assert "broken" not in captured.out and "  evaluate  " in captured.out
    assert expected in captured.err and captured.err.count("\n") == 1
