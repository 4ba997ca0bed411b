"""ROS 2 side of SAMosaic3D: the node and the message conversions it needs (thin; no model code)."""
