"""DDAG (Ye et al., ECCV 2020) as a plug-in project: importing ``ddag`` (IMPORTS: [ddag]) registers
the ``DDAG`` meta-architecture and the ``DDAG.*`` config keys."""
from . import config, meta_arch  # noqa: F401  (registration)
