"""Meta-architectures; importing this package registers the built-in ones."""
from .agw import AGWBaseline
from .baseline import CrossModalBaseline
from .build import META_ARCH_REGISTRY, build_model
from .hct_pcb import HCTPCB

__all__ = ["META_ARCH_REGISTRY", "build_model", "CrossModalBaseline", "AGWBaseline", "HCTPCB"]
