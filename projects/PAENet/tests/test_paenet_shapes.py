"""Both variants with ResNet-18 and ResNet-50 at two input sizes: output shapes, no fixed sizes."""
import pytest
import torch

from paenet_testkit import make_batch


@pytest.mark.parametrize("variant", ["reference", "paper"])
@pytest.mark.parametrize("depth,dim", [(18, 512), (50, 2048)])
def test_shapes(build_small, variant, depth, dim):
    n, classes = 5, 3
    model = build_small(depth=depth, variant=variant, num_attributes=n, num_classes=classes)
    for i, size in enumerate(((64, 32), (96, 48))):
        batch = make_batch(num_ids=2, k=2, num_attributes=n, size=size)
        if i == 0:
            model.train()
            with torch.no_grad():
                losses = model(batch)
            assert set(losses) == {"loss_cls", "loss_hctri", "loss_mmd", "loss_attr"}
            assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
        model.eval()
        with torch.no_grad():
            out = model({**batch, "attribute_source": "gt"})
        b = batch["images"].shape[0]
        assert out["FC"].shape == (b, dim) and out["POOL"].shape == (b, dim)
        assert out["attribute_probs"].shape == (b, n)
        assert ((out["attribute_probs"] > 0) & (out["attribute_probs"] < 1)).all()
