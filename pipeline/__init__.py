"""Bake VM images with Packer and release them to Azure VM Scale Sets by blue/green swap.

`pipeline.emulator` is the local cloud; nothing else in this package imports it.
"""

__version__ = "0.1.0"
