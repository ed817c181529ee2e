"""Serving core shared by the Space and the Lambda: model loading, image decoding, limits.

It depends on torch, numpy and Pillow only, never on training/: the exported model.pt is the
whole contract.
"""
