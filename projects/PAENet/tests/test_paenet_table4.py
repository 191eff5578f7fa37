"""The paper's Table 4 rows as configs: joint training, then from epoch 10 either AAL or PAE frozen.
Each frozen set is exactly the named module's parameters (nothing of the base, nothing of the other
module), and with the window open the model trains only what the row says."""
import pytest
import torch

from fastreid_ext.modeling import build_model
from fastreid_ext.solver.freeze import FreezeSchedule
from paenet_testkit import make_batch, small_opts

ROWS = {"table4_joint": (), "table4_train_pae": ("aal.", "identity_neck."), "table4_train_aal": ("pae.",)}


@pytest.mark.parametrize("row", sorted(ROWS))
def test_table4_rows_freeze_the_named_module_from_epoch_10(make_cfg, row):
    cfg = make_cfg(f"configs/PAENet/{row}.yml", small_opts())
    torch.manual_seed(0)
    model = build_model(cfg)
    sched = FreezeSchedule.from_config(cfg)
    frozen = {n for n, _ in sched.parameters(model)} if sched.enabled else set()
    expected = {n for n, _ in model.named_parameters() if n.startswith(ROWS[row])}
    assert frozen == expected and (row == "table4_joint") == (not frozen)
    assert cfg.SOLVER.MAX_EPOCH == 61 and cfg.OUTPUT_DIR.endswith(row)
    if not frozen:
        return
    assert [sched.active(e) for e in (0, 9, 10, 60)] == [False, False, True, True]
    fixed = {n for n, p in model.named_parameters() if not p.requires_grad}  # fixed zero BN biases
    assert "identity_neck.bias" in fixed
    model.train()
    sched.apply(model, 10)
    sum(model(make_batch()).values()).backward()
    sched.drop_grads(model)
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert not with_grad & frozen
    assert any(n.startswith("base.backbone.") for n in with_grad)
    other = "pae." if row == "table4_train_pae" else "aal."
    assert any(n.startswith(other) for n in with_grad)
    sched.release(model)  # what the hook does after training: parameters fixed before stay fixed
    assert {n for n, p in model.named_parameters() if not p.requires_grad} == fixed

