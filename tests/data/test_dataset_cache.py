"""The run's datasets are read once: the setup, the train loader and the evaluators share them."""
from fastreid_ext.config import get_cfg
from fastreid_ext.data.datasets import DatasetCache


def test_one_read_per_dataset_and_options(sysu_root, monkeypatch):
    import fastreid_ext.data.datasets.catalog as catalog

    reads = []
    real = catalog.build_dataset
    monkeypatch.setattr(catalog, "build_dataset", lambda cfg, name: reads.append(name) or real(cfg, name))
    cfg = get_cfg()
    cfg.DATASETS.ROOT = str(sysu_root)
    cfg.DATASETS.ATTRIBUTES.ENABLED = False
    cache = DatasetCache()
    from fastreid_ext.engine.setup import resolve_dataset_keys
    from fastreid_ext.data.build import build_train_loader
    from fastreid_ext.engine.defaults import DefaultTrainer

    resolve_dataset_keys(cfg, cache)  # the training set (also the test set)
    build_train_loader(cfg, cache)
    DefaultTrainer.build_evaluators(cfg, datasets=cache)
    assert reads == ["SYSU_MM01"] and len(cache) == 1
    cfg.DATASETS.SYSU.HOLD_OUT_VAL = True  # another reading option: read again
    assert cache.get(cfg, "SYSU_MM01") is not cache.get(cfg.clone(), "SYSU_MM01") or reads == ["SYSU_MM01"] * 2
    assert reads == ["SYSU_MM01", "SYSU_MM01"]
