"""Losses as plain functions ``f(features, labels, modality, **hyper_parameters) -> scalar``."""
from .cross_entropy import cross_entropy_loss
from .hetero_center_triplet import hetero_center_triplet_loss
from .margin_mmd import global_mmd_loss, margin_mmd_loss, mmd2
from .weighted_triplet import weighted_regularized_triplet_loss

__all__ = ["cross_entropy_loss", "hetero_center_triplet_loss", "margin_mmd_loss", "global_mmd_loss", "mmd2",
           "weighted_regularized_triplet_loss"]
