"""Learned models: the sparse U-Net backbone and the Fragment-to-Instance (F2I) assembly.

Import from the submodules (``samosaic3d_core.model.f2i`` etc.); this package stays empty so
importing one part does not pull in torch/spconv for the others.
"""
