"""A tiny deterministic model and configs for evaluator / visualisation tests."""
import torch
import torch.nn.functional as F
from torch import nn

from fastreid_ext.config import get_cfg


class PooledPixelModel(nn.Module):
    """Eval outputs computed from the pixels: FC = pooled pixels shifted by the modality (so the
    modality must reach the model), POOL = a non-linear map of them (a different ranking)."""

    def __init__(self, num_attributes: int = 0):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.num_attributes = num_attributes
        self.seen_modalities, self.seen_sources = set(), []

    def forward(self, batch):
        assert not self.training
        pooled = F.adaptive_avg_pool2d(batch["images"].float(), (4, 2)).flatten(1) * self.scale
        self.seen_modalities.update(batch["modality"].tolist())
        self.seen_sources.append(batch.get("attribute_source"))
        out = {"FC": pooled + 0.3 * batch["modality"].float().unsqueeze(1), "POOL": pooled * 2 - 1 + pooled.pow(2)}
        if self.num_attributes:
            shift = 0.5 if batch.get("attribute_source") == "zeros" else 0.0
            out["attribute_probs"] = torch.sigmoid(pooled[:, : self.num_attributes] * 4 + shift)
        return out


def tiny_cfg(root, output_dir, dataset="SYSU_MM01", trials=3):
    cfg = get_cfg()
    cfg.DATASETS.ROOT = str(root)
    cfg.DATASETS.NAMES = [dataset]
    cfg.DATASETS.TESTS = [dataset]
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.DATALOADER.PERSISTENT_WORKERS = False
    cfg.INPUT.SIZE_TEST = [32, 16]
    cfg.TEST.IMS_PER_BATCH = 32
    cfg.TEST.SYSU.NUM_TRIALS = trials
    cfg.TEST.SYSU.MULTI_SHOT_IMAGES = 2
    cfg.OUTPUT_DIR = str(output_dir)
    return cfg
