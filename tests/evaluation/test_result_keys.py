"""One result-key type: round trips, the keys an evaluator declares equal the keys it emits, the
pre-flight check by membership, and model selection on a re-ranked validation Rank-1 end to end."""
import os

import pytest

from eval_testkit import PooledPixelModel, tiny_cfg
from fastreid_ext.data.datasets.build import build_dataset
from fastreid_ext.evaluation import ResultKey, build_evaluator
from fastreid_ext.utils.errors import UserError

KEYS = ["SYSU_MM01/all-single/FC/Rank-1", "SYSU_MM01/all-single/FC/Rank-1-std", "SYSU_MM01/indoor-multi/gt/FC+flip+rerank/mAP",
        "RegDB/visible2infrared/POOL/mINP-std", "SYSU_MM01/attributes/mA", "SYSU_MM01/attributes/predicted/acc/glasses",
        "SYSU_MM01/attributes/acc/hat", "LLCM/infrared2visible/predicted/FC+aqe/chance"]


@pytest.mark.parametrize("text", KEYS)
def test_round_trip(text):
    key = ResultKey.parse(text)
    assert str(key) == text and ResultKey.from_parts(key.task_key, key.metric_key) == key


def test_fields():
    k = ResultKey.parse("SYSU_MM01/indoor-multi/gt/FC+flip+rerank/mAP-std")
    assert (k.dataset, k.task, k.source, k.feature, k.metric, k.statistic) == ("SYSU_MM01", "indoor-multi", "gt",
                                                                               "FC+flip+rerank", "mAP", "std")
    assert k.base_feature == "FC" and k.test_time == ("flip", "rerank") and k.prefix == "gt/FC+flip+rerank"
    a = ResultKey.parse("SYSU_MM01/attributes/gt/acc/glasses")
    assert (a.source, a.metric, a.feature, a.is_attribute) == ("gt", "acc/glasses", "", True)


@pytest.mark.parametrize("bad", ["SYSU_MM01/FC/Rank-1", "SYSU_MM01/all-single/a/b/FC/Rank-1", "SYSU_MM01//FC/Rank-1", ""])
def test_malformed_keys_are_one_line(bad):
    with pytest.raises(UserError) as e:
        ResultKey.parse(bad, "TEST.SELECT_METRIC")
    assert "\n" not in str(e.value) and "TEST.SELECT_METRIC" in str(e.value) and "<dataset>/<task>" in str(e.value)


@pytest.mark.parametrize("opts", [[], ["TEST.RERANK.ENABLED", True, "TEST.FLIP.ENABLED", True]])
@pytest.mark.parametrize("quick", [False, True])
def test_declared_keys_are_the_emitted_keys(sysu_root, tmp_path, opts, quick):
    cfg = tiny_cfg(sysu_root, tmp_path, trials=2)
    cfg.DATASETS.ATTRIBUTES.ENABLED = False
    cfg.merge_from_list(opts)
    evaluator = build_evaluator(cfg, build_dataset(cfg, "SYSU_MM01"), str(tmp_path))
    results = evaluator.evaluate(PooledPixelModel(), quick=quick)
    emitted = {f"{task}/{k}" for task, metrics in results.items() for k in metrics}
    assert emitted == {str(k) for k in evaluator.result_keys(quick)}
    assert all(ResultKey.parse(k) for k in emitted)


def test_select_metric_is_checked_by_membership(sysu_root, tmp_path):
    from fastreid_ext.engine.preflight import check_metric_key, declared_result_keys

    cfg = tiny_cfg(sysu_root, tmp_path)
    cfg.DATASETS.ATTRIBUTES.ENABLED = False
    cfg.TEST.RERANK.ENABLED = True
    evaluators = [("SYSU_MM01", build_evaluator(cfg, build_dataset(cfg, "SYSU_MM01"), str(tmp_path)))]
    declared = declared_result_keys(evaluators)
    check_metric_key("SYSU_MM01/all-single/FC+rerank/Rank-1", declared)  # the re-ranked key is emitted: accepted
    with pytest.raises(UserError) as e:
        check_metric_key("SYSU_MM01/all-single/FC/Rank-1", declared)  # without +rerank nothing emits it
    msg = str(e.value)
    assert "\n" not in msg and "will not be emitted" in msg and "SYSU_MM01/all-single/FC+rerank/Rank-1" in msg
    with pytest.raises(UserError, match="not an evaluated dataset"):
        check_metric_key("RegDB/visible2infrared/FC+rerank/Rank-1", declared)


def test_unregistered_protocol_lists_the_registered_ones(sysu_root, tmp_path):
    from fastreid_ext.evaluation import build_protocol

    cfg = tiny_cfg(sysu_root, tmp_path)
    cfg.DATASETS.ATTRIBUTES.ENABLED = False
    dataset = build_dataset(cfg, "SYSU_MM01")
    dataset.protocol = "market"
    with pytest.raises(UserError) as e:
        build_protocol(cfg, dataset)
    assert "protocol 'market' is not registered" in str(e.value) and "'regdb'" in str(e.value) and "'sysu'" in str(e.value)


def test_empty_gallery_names_the_dataset_and_split(sysu_root, tmp_path):
    from fastreid_ext.evaluation import build_protocol

    cfg = tiny_cfg(sysu_root, tmp_path)
    cfg.DATASETS.ATTRIBUTES.ENABLED = False
    dataset = build_dataset(cfg, "SYSU_MM01")
    dataset.gallery = []
    with pytest.raises(UserError, match="SYSU_MM01: the gallery split is empty"):
        build_protocol(cfg, dataset)


@pytest.mark.slow
def test_reranked_validation_rank1_selects_model_best(repo_root, sysu_root, tmp_path):
    """With TEST.RERANK.ENABLED, TEST.SELECT_METRIC naming the re-ranked validation Rank-1 passes the
    start-of-run check and model_best.pth is written (it was refused, and the plain key found nothing)."""
    import torch

    from fastreid_ext.config import load_config
    from fastreid_ext.engine import DefaultTrainer
    from fastreid_ext.utils.env import seed_all_rng

    key = "SYSU_MM01_val/all-single/FC+rerank/Rank-1"
    cfg = load_config(str(repo_root / "configs/Baseline/sysu.yml"), [
        "DATASETS.ROOT", str(sysu_root), "OUTPUT_DIR", str(tmp_path), "MODEL.DEVICE", "cpu", "SEED", 0,
        "MODEL.BACKBONE.PRETRAIN", False, "MODEL.BACKBONE.DEPTH", 18, "DATASETS.ATTRIBUTES.ENABLED", False,
        "INPUT.SIZE_TRAIN", [64, 32], "INPUT.SIZE_TEST", [64, 32], "DATALOADER.NUM_WORKERS", 0,
        "DATALOADER.IDS_PER_BATCH", 2, "DATALOADER.NUM_INSTANCES", 2, "DATALOADER.ITERS_PER_EPOCH", 2,
        "SOLVER.MAX_EPOCH", 2, "SOLVER.WARMUP_EPOCHS", 0, "SOLVER.STEPS", [100], "SOLVER.CHECKPOINT_PERIOD", 100,
        "TEST.EVAL_PERIOD", 1, "TEST.EVAL_START_EPOCH", 0, "TEST.SYSU.MODES", ["all"], "TEST.SYSU.SHOTS", ["single"],
        "TEST.SYSU.NUM_TRIALS", 1, "TEST.RERANK.ENABLED", True, "TEST.RERANK.K1", 4, "TEST.RERANK.K2", 2,
        "DATASETS.VAL", ["SYSU_MM01_val"], "DATASETS.SYSU.HOLD_OUT_VAL", True, "TEST.SELECT_METRIC", key,
    ])
    torch.set_num_threads(1)
    seed_all_rng(0)
    from fastreid_ext.engine.setup import resolve_dataset_keys

    cfg.defrost()
    resolve_dataset_keys(cfg)
    cfg.freeze()
    trainer = DefaultTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    assert os.path.isfile(tmp_path / "model_best.pth")
    best = next(h for h in trainer._hooks if type(h).__name__ == "BestCheckpointer")
    assert best.resolved_metric == key and best.best_iter is not None
