"""Rosbag library: write synthetic scenes as bags, find the inputs of any bag, read them back as frames, replay
them into the node, segment and score them."""
