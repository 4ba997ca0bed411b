"""Safe, atomic file formats (npz without pickle, JSON, PLY)."""
