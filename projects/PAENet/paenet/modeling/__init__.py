"""PAE / AAL modules and the ``PAENet`` meta-architecture (imported here to register it)."""
from .paenet import PAENet  # noqa: F401

__all__ = ["PAENet"]
