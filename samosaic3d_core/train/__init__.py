"""Training: F2I samples built on the fly from frames (dataset), the loop, validation numbers."""
