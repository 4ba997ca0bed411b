"""Dataset readers/writers and the synthetic scene generator."""
