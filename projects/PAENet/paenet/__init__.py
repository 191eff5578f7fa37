"""PAENet: Progressive Attribute Embedding + Attribute-based Auxiliary Learning (ACM MM 2022).

Importing this package registers the PAENet meta-architecture and its config keys.
"""
from . import config, meta_arch  # noqa: F401  (registration)
