"""MPANet (Wu et al., CVPR 2021) as a plug-in project: importing ``mpanet`` (IMPORTS: [mpanet]) registers
the ``MPANet`` meta-architecture, the ``MPANET.*`` config keys and the public checkpoint format."""
from . import config, meta_arch, public_checkpoint  # noqa: F401  (registration)
