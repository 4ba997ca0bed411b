"""Rosbag library: write synthetic scenes as bags, read them back as frames, replay them into the node."""
