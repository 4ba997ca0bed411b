"""ROS 2 side of SAMosaic3D: the node and the message conversions it needs (thin; no model code).

``bag/`` reads, writes and replays rosbags; ``commands/`` holds the ``samosaic3d`` subcommands
built on them (demo, make-bag, eval-bag, segment-bag).
"""
