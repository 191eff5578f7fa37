"""TEST.PRECISE_BN: running statistics become the population statistics of NUM_ITER batches, other
buffers and the training trajectory are untouched, and the batches drawn continue across --resume."""
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from engine_testkit import FakeLoaderTrainer, FakeSampler, tiny_cfg
from fastreid_ext.engine import PreciseBN
from fastreid_ext.utils.env import seed_all_rng


class _Batches(Dataset):
    def __len__(self):
        return 10**9

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return {"x": torch.randn(6, 3, generator=g) * (i + 1) + i}


class _BNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(3)
        self.register_buffer("seen", torch.zeros(()))  # a stateful layer precise BN must not change

    def forward(self, batch):
        self.seen += 1
        return self.bn(batch["x"])


def _hook(model, num_iter):
    loader = DataLoader(_Batches(), batch_sampler=FakeSampler(1), collate_fn=lambda b: b[0])
    return PreciseBN(model, lambda: loader, num_iter, is_due=lambda it: False)


def _data(first, n):
    return torch.cat([_Batches()[i]["x"] for i in range(first, first + n)])


def test_running_stats_become_the_data_statistics_of_num_iter_batches():
    model = _BNNet().train()
    hook = _hook(model, 4)
    hook.update()
    data = _data(0, 4)
    assert torch.allclose(model.bn.running_mean, data.mean(0), atol=1e-5)
    assert torch.allclose(model.bn.running_var, data.var(0, unbiased=False), rtol=1e-4)
    assert float(model.seen) == 0 and int(model.bn.num_batches_tracked) == 0  # restored
    assert model.bn.momentum == 0.1
    hook.update()  # the next update draws the next 4 batches
    data = _data(4, 4)
    assert torch.allclose(model.bn.running_mean, data.mean(0), atol=1e-4)
    assert hook.state_dict() == {"consumed": 8}


def test_resumed_hook_draws_the_same_batches():
    a, b = _BNNet().train(), _BNNet().train()
    ha, hb = _hook(a, 3), _hook(b, 3)
    ha.update()
    hb.load_state_dict(ha.state_dict())  # a fresh hook restored from the checkpointed state
    ha.update()
    hb.update()
    assert torch.equal(a.bn.running_mean, b.bn.running_mean) and torch.equal(a.bn.running_var, b.bn.running_var)
    with pytest.raises(ValueError, match="NUM_ITER must be > 0"):
        _hook(a, 0)


def _train(cfg):
    seed_all_rng(cfg.SEED)
    trainer = FakeLoaderTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    return trainer


def test_trainer_runs_precise_bn_before_each_evaluation(tiny_plugin, tmp_path):
    kw = dict(SOLVER__MAX_EPOCH=3, TEST__EVAL_PERIOD=1, TEST__EVAL_START_EPOCH=1)
    plain = _train(tiny_cfg(tmp_path / "a", **kw))
    precise = _train(tiny_cfg(tmp_path / "b", TEST__PRECISE_BN__ENABLED=True, TEST__PRECISE_BN__NUM_ITER=2, **kw))
    names = [type(h).__name__ for h in precise._hooks]
    assert names.index("PreciseBN") == names.index("EvalHook") - 1
    hook = precise._hooks[names.index("PreciseBN")]
    assert hook.consumed == 2 * 2  # before the quick evaluation after epoch 1 and before the final one
    pa, pb = dict(plain.model.named_parameters()), dict(precise.model.named_parameters())
    for k in pa:  # the weights follow the same trajectory
        assert torch.equal(pa[k], pb[k]), k
    assert not torch.allclose(plain.model.bottleneck.running_mean, precise.model.bottleneck.running_mean)
    saved = torch.load(f"{precise.cfg.OUTPUT_DIR}/model_final.pth", weights_only=True)
    assert saved["trainer"]["hooks"]["PreciseBN"] == {"consumed": 4}
    assert torch.equal(saved["model"]["bottleneck.running_mean"], precise.model.bottleneck.running_mean)


def test_unknown_precise_bn_dataset_fails_when_the_trainer_is_built(tiny_plugin, tmp_path):
    from fastreid_ext.utils.errors import UserError

    with pytest.raises(UserError, match="TEST.PRECISE_BN.DATASET 'TinyDta' is not a registered dataset"):
        FakeLoaderTrainer(tiny_cfg(tmp_path, TEST__PRECISE_BN__ENABLED=True, TEST__PRECISE_BN__DATASET="TinyDta"))
    seen = []

    class Capture(FakeLoaderTrainer):
        @classmethod
        def build_train_loader(cls, cfg):
            seen.append(list(cfg.DATASETS.NAMES))
            return super().build_train_loader(cfg)

    trainer = Capture(tiny_cfg(tmp_path / "ok", TEST__PRECISE_BN__ENABLED=True, TEST__PRECISE_BN__DATASET="SYSU_MM01"))
    trainer._precise_bn_loader()
    assert seen == [["TinyData"], ["SYSU_MM01"]] and list(trainer.cfg.DATASETS.NAMES) == ["TinyData"]
