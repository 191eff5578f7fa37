"""The project's iopath PathManager, so paths with a scheme (http, manifold...) can be added in one place."""
from iopath.common.file_io import HTTPURLHandler, PathManager as _PathManagerCls

__all__ = ["PathManager"]

PathManager = _PathManagerCls()
PathManager.register_handler(HTTPURLHandler())
