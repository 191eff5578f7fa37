"""A researcher's own package, used by the engine tests only through IMPORTS (never installed).

Registers a config key-adder (TINY.*), a meta-architecture, a dataset, an evaluator and two hooks.
"""
from . import hooks, model, data, evaluator  # noqa: F401  (registration)
