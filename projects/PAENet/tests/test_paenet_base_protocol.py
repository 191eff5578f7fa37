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
