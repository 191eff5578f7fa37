"""A researcher's own package, used by the engine tests only through IMPORTS (never installed).

Registers a config key-adder (TINY.*), a meta-architecture, a dataset with its synthetic-data generator
and its protocol, an evaluator and two hooks.
"""
from . import hooks, model, data, evaluator, protocol  # noqa: F401  (registration)
