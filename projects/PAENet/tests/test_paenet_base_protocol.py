"""PAENet attaches to any base with the PAENetBase members and adds its terms to the base's own
losses; a base lacking members is refused with the missing members and the config key named."""
import pytest
import torch
from torch import nn

from fastreid_ext.utils.errors import UserError
from paenet.meta_arch import BASE_MEMBERS, PAENet, PAENetBase
from paenet_testkit import make_batch


def test_crossmodal_baseline_satisfies_the_protocol(build_small):
    model = build_small()
    assert isinstance(model.base, PAENetBase)
    assert set(BASE_MEMBERS) == {"feat_dim", "pool", "classifier", "device", "preprocess", "extract", "losses"}


def test_paenet_adds_its_terms_to_the_base_losses(build_small):
    """A base configured with other terms keeps them: PAENet only adds loss_attr."""
    model = build_small(extra=["MODEL.LOSSES.NAME", '["CrossEntropyLoss"]']).train()
    with torch.no_grad():
        losses = model(make_batch(num_ids=2, k=2, num_attributes=5))
    assert set(losses) == {"loss_cls", "loss_attr"}


def test_base_lacking_members_is_refused(build_small):
    full = build_small()

    class Incomplete(nn.Module):
        feat_dim = full.base.feat_dim

        def extract(self, images, modality):
            return {}

    with pytest.raises(UserError, match=r"PAENET\.BASE_ARCHITECTURE.*Incomplete.*\['pool', 'classifier', 'device', "
                                        r"'preprocess', 'losses'\]"):
        PAENet(base=Incomplete(), pae=full.pae, aal=full.aal, num_attributes=5)


THIRD_BASE = '''
"""A third base from a plugin: the baseline plus its own loss term."""
from fastreid_ext.modeling.meta_arch.baseline import CrossModalBaseline
from fastreid_ext.modeling.meta_arch.build import META_ARCH_REGISTRY


@META_ARCH_REGISTRY.register()
class PaenetTestThirdBase(CrossModalBaseline):
    def losses(self, features, logits, batch):
        out = super().losses(features, logits, batch)
        out["loss_third_base"] = features.pow(2).mean()
        return out
'''


def test_attach_to_a_base_registered_by_a_plugin(make_cfg, tmp_path):
    """PAENET.BASE_ARCHITECTURE names a base a plugin registered; its own term survives."""
    from fastreid_ext.modeling import build_model

    plugin = tmp_path / "paenet_test_third_base.py"
    plugin.write_text(THIRD_BASE)
    cfg = make_cfg(opts=["IMPORTS", f'["paenet", "{plugin}"]', "PAENET.BASE_ARCHITECTURE", "PaenetTestThirdBase",
                         "MODEL.BACKBONE.DEPTH", "18", "MODEL.NUM_ATTRIBUTES", "5", "MODEL.HEADS.NUM_CLASSES", "3"])
    from fastreid_ext.utils.plugins import import_plugins

    import_plugins(cfg.IMPORTS)
    model = build_model(cfg).train()
    assert type(model.base).__name__ == "PaenetTestThirdBase"
    with torch.no_grad():
        losses = model(make_batch(num_ids=2, k=2, num_attributes=5))
    assert set(losses) == {"loss_cls", "loss_hctri", "loss_mmd", "loss_third_base", "loss_attr"}
