"""The ``samosaic3d`` subcommands that need the ROS side: ``demo``, ``make-bag``, ``eval-bag``, ``segment-bag``,
``params``, ``doctor``.

Each module is a command front end (``HELP``, ``add_arguments(parser)``, ``run(args) -> int``) and
keeps its top-level imports light; the package declares them in setup.py under the entry-point
group ``samosaic3d.commands``, which ``samosaic3d_core.cli.main`` reads.
"""
