import torch
from torch import nn

from fastreid_ext.config import CfgNode as CN, register_config
from fastreid_ext.modeling import META_ARCH_REGISTRY
from fastreid_ext.utils.events import get_event_storage


@register_config
def add_tiny_config(cfg):
    cfg.TINY = CN()
    cfg.TINY.WIDTH = 4
    cfg.TINY.KILL_AT_ITER = -1  # KillAtIter hook: os._exit(3) after this iteration
    cfg.TINY.NAN_AT_ITER = -1  # the model returns a NaN loss at this iteration
    cfg.TINY.PAUSE_FILE = ""  # PauseUntilFile hook: after iteration 0, write <file>.paused, wait for <file>


@META_ARCH_REGISTRY.register()
class TinyReIDNet(nn.Module):
    """conv → pool → dropout (uses the RNG) → BN neck → classifier; a couple of hundred parameters."""

    TRAINING_ONLY_PREFIXES = ("classifier.",)

    def __init__(self, width: int, num_classes: int, nan_at_iter: int = -1):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU())
        self.dropout = nn.Dropout(0.2)
        self.bottleneck = nn.BatchNorm1d(width)
        self.classifier = nn.Linear(width, num_classes, bias=False) if num_classes > 0 else None
        self.nan_at_iter = nan_at_iter
        self.remap_calls = 0

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.TINY.WIDTH, cfg.MODEL.HEADS.NUM_CLASSES, cfg.TINY.NAN_AT_ITER)

    @property
    def device(self):
        return self.bottleneck.weight.device

    def remap_checkpoint_keys(self, state_dict):
        """Official-release names: 'base.*' → 'backbone.*' (exercises the checkpointer hook)."""
        self.remap_calls += 1
        return {("backbone." + k[5:] if k.startswith("base.") else k): v for k, v in state_dict.items()}

    def forward(self, batch):
        x = batch["images"].to(self.device)
        pool = self.backbone(x).mean(dim=(2, 3))
        feat = self.bottleneck(pool)
        if not self.training:
            return {"FC": feat, "POOL": pool}
        logits = self.classifier(self.dropout(feat))
        targets = batch["targets"].to(self.device)
        losses = {"loss_cls": nn.functional.cross_entropy(logits, targets),
                  "loss_reg": 1e-3 * pool.pow(2).mean()}
        if self.nan_at_iter >= 0 and get_event_storage().iter == self.nan_at_iter:
            losses["loss_cls"] = losses["loss_cls"] * float("nan")
        return losses
