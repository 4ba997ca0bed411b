"""SAMosaic3D core: online 3D instance segmentation from posed RGB-D (no ROS imports)."""

__version__ = "0.1.0"
