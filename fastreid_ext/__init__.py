"""fastreid_ext: a fast-reid-style engine for cross-modality (visible-infrared) person re-identification.

Importing the package imports nothing else; subpackages register their contents when imported.
"""
__version__ = "0.1.0"
