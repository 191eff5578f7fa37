"""A short baseline training run on the synthetic SYSU-MM01 through the real trainer, loaders and
evaluator: the loss goes down and the model learns to match identities across modalities.

Random init and a few hundred images: at this budget the gain on *unseen* test identities is a few
mAP points and too noisy to assert, so cross-modal matching is checked on the training identities
(infrared queries against a visible gallery, images never seen in this pairing as a retrieval task),
where an untrained two-stream model is near chance. The full protocol still runs at the end.
"""
import json

import numpy as np
import torch

from fastreid_ext.config import load_config
from fastreid_ext.data.build import build_test_loader
from fastreid_ext.engine import DefaultTrainer
from fastreid_ext.evaluation.metrics import eval_regdb
from fastreid_ext.utils.env import seed_all_rng


def _cfg(repo_root, sysu_root, out_dir, epochs):
    return load_config(str(repo_root / "configs/Baseline/sysu.yml"), [
        "DATASETS.ROOT", str(sysu_root), "OUTPUT_DIR", str(out_dir), "MODEL.DEVICE", "cpu", "SEED", 0,
        "MODEL.BACKBONE.PRETRAIN", False, "MODEL.BACKBONE.DEPTH", 18, "DATASETS.ATTRIBUTES.ENABLED", False,
        "INPUT.SIZE_TRAIN", [64, 32], "INPUT.SIZE_TEST", [64, 32], "INPUT.PADDING", 4,
        "DATALOADER.NUM_WORKERS", 0, "DATALOADER.IDS_PER_BATCH", 4, "DATALOADER.NUM_INSTANCES", 2,
        # random init on a tiny set: Adam on every layer learns in a few epochs where the ImageNet recipe does not
        "SOLVER.OPTIMIZER", "Adam", "SOLVER.BASE_LR", 1e-3, "SOLVER.LR_MULTIPLIERS", [],
        "SOLVER.MAX_EPOCH", epochs, "SOLVER.WARMUP_EPOCHS", 0, "SOLVER.STEPS", [100], "SOLVER.LOG_PERIOD", 1,
        "SOLVER.CHECKPOINT_PERIOD", 100, "TEST.EVAL_PERIOD", 0, "TEST.SYSU.MODES", ["all"],
        "TEST.SYSU.SHOTS", ["single"], "TEST.SYSU.NUM_TRIALS", 2,
    ])


@torch.no_grad()
def _train_ids_cross_modal_map(cfg, model, records) -> tuple[float, float]:
    """mAP and Rank-1 (percent) of infrared → visible retrieval among the training identities."""
    model.eval()
    feats, pids, mods = [], [], []
    for batch in build_test_loader(cfg, records):
        feats.append(torch.nn.functional.normalize(model(batch)["FC"], dim=1))
        pids.append(batch["targets"])
        mods.append(batch["modality"])
    model.train()
    f, p, m = torch.cat(feats), torch.cat(pids).numpy(), torch.cat(mods).numpy()
    q, g = m == 1, m == 0
    cmc, mAP, _ = eval_regdb(-(f[q] @ f[g].T).numpy(), p[q], p[g])
    return 100 * float(mAP), 100 * float(cmc[0])


def test_baseline_trains_on_synthetic_sysu(repo_root, sysu_root, tmp_path):
    torch.set_num_threads(2)
    seed_all_rng(0)  # the model's initial weights: the run is deterministic on CPU
    cfg = _cfg(repo_root, sysu_root, tmp_path / "out", epochs=6)
    trainer = DefaultTrainer(cfg)
    trainer.resume_or_load(resume=False)
    records = trainer.data_loader.dataset.records
    map_before, r1_before = _train_ids_cross_modal_map(cfg, trainer.model, records)
    results = trainer.train()

    rows = [json.loads(line) for line in open(tmp_path / "out" / "metrics.json") if "total_loss" in line]
    ipe = trainer.iters_per_epoch
    first = sum(r["total_loss"] for r in rows[:ipe]) / ipe
    last = sum(r["total_loss"] for r in rows[-ipe:]) / ipe
    assert {"loss_cls", "loss_hctri", "loss_mmd"} <= set(rows[-1])
    assert last < 0.8 * first, (first, last)

    map_after, r1_after = _train_ids_cross_modal_map(cfg, trainer.model, records)
    chance_r1 = 100.0 / len({r.pid for r in records})
    assert map_after > map_before + 10.0, (map_before, map_after)
    assert r1_after > 2 * chance_r1 and r1_after > r1_before + 10.0, (r1_before, r1_after, chance_r1)
    # the unseen-identity protocol ran to the end and produced sane numbers
    metrics = results["SYSU_MM01/all-single"]
    assert all(np.isfinite(v) and 0.0 <= v <= 100.0 for v in metrics.values())
