"""LLCM (Zhang & Wang, CVPR 2023) as a plugin of fastreid_ext: its reader, its protocol, its synthetic
generator and its config keys register themselves on import, the way a researcher's own package adds
a dataset. Name it in a config's ``IMPORTS: [llcm]``."""
from . import config, dataset, protocol, synthetic  # noqa: F401  (registration)
