"""Samplers: the infinite cross-modality identity batch sampler and ordered inference sampling."""
from .identity_sampler import CrossModalityIdentitySampler
from .inference_sampler import InferenceSampler

__all__ = ["CrossModalityIdentitySampler", "InferenceSampler"]
