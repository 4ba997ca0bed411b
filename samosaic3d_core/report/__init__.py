"""Pictures and a small report folder for people: mask overlays, map views, metrics."""
