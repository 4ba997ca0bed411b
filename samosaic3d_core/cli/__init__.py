"""The ``samosaic3d`` command line (see ``main``)."""
