"""Checkpointer: atomic saves, weights_only policy, official PAENet .t files, raw state dicts,
key remapping by the model, eval-only strictness."""
import os
import pickle

import numpy as np
import pytest
import torch

from fastreid_ext.checkpoint import EvalOnlyWeightsError, ReidCheckpointer, UntrustedCheckpointError
from fastreid_ext.modeling import META_ARCH_REGISTRY
from engine_testkit import tiny_cfg


def _model(tiny_plugin, tmp_path, num_classes=4):
    cfg = tiny_cfg(tmp_path, MODEL__HEADS__NUM_CLASSES=num_classes)
    return META_ARCH_REGISTRY.build("TinyReIDNet", cfg)


class _Opaque:
    """Anything that is not a tensor/container/numpy needs full unpickling."""

    def __init__(self):
        self.x = 1


def test_atomic_save_survives_crash_during_write(tiny_plugin, tmp_path, monkeypatch):
    model = _model(tiny_plugin, tmp_path)
    ck = ReidCheckpointer(model, str(tmp_path / "out"))
    ck.save("model_final")
    final = tmp_path / "out" / "model_final.pth"
    before = final.read_bytes()
    last_before = (tmp_path / "out" / "last_checkpoint").read_text()
    with torch.no_grad():
        model.backbone[0].weight.add_(1.0)
    real_save = torch.save

    def crashing_save(obj, f, *a, **k):
        f.write(b"partial garbage")  # part of the file is written, then the process "dies"
        raise KeyboardInterrupt("killed during save")

    monkeypatch.setattr(torch, "save", crashing_save)
    with pytest.raises(KeyboardInterrupt):
        ck.save("model_final")
    monkeypatch.setattr(torch, "save", real_save)
    assert final.read_bytes() == before
    assert (tmp_path / "out" / "last_checkpoint").read_text() == last_before
    assert [p for p in os.listdir(tmp_path / "out") if p.endswith(".tmp")] == []
    torch.load(final, weights_only=True)  # still a complete, loadable file


def test_only_main_process_saves(tiny_plugin, tmp_path, monkeypatch):
    from fastreid_ext.utils import comm

    monkeypatch.setattr(comm, "get_rank", lambda: 1)
    ck = ReidCheckpointer(_model(tiny_plugin, tmp_path), str(tmp_path / "out"))
    ck.save("model_x")
    assert not (tmp_path / "out").exists()


def _official_file(model, path):
    """Official PAENet layout: {'net': state_dict with its own names, 'cmc'/'mAP' numpy, 'epoch'}."""
    sd = {("base." + k[len("backbone."):] if k.startswith("backbone.") else k): v for k, v in model.state_dict().items()}
    torch.save({"net": sd, "cmc": np.linspace(0, 1, 20), "mAP": np.float64(0.55), "epoch": 60}, path)


def test_official_t_file_with_numpy_loads_weights_only(tiny_plugin, tmp_path):
    src = _model(tiny_plugin, tmp_path)
    path = str(tmp_path / "sysu_agw_p4_n8_lr_0.1_seed_0_best.t")
    _official_file(src, path)  # foreign names, mapped by model.remap_checkpoint_keys
    dst = _model(tiny_plugin, tmp_path)
    extra = ReidCheckpointer(dst, "").load_for_eval(path)
    assert dst.remap_calls == 1
    for k, v in src.state_dict().items():
        assert torch.equal(v, dst.state_dict()[k]), k
    assert extra["legacy_info"]["epoch"] == 60


def test_untrusted_pickle_is_refused_unless_trusted(tiny_plugin, tmp_path):
    model = _model(tiny_plugin, tmp_path)
    path = str(tmp_path / "odd.pth")
    torch.save({"model": model.state_dict(), "extra": _Opaque()}, path)
    with pytest.raises(UntrustedCheckpointError, match="MODEL.WEIGHTS_TRUSTED") as e:
        ReidCheckpointer(model, "").load(path)
    assert "odd.pth" in str(e.value) and isinstance(e.value, pickle.UnpicklingError)
    out = ReidCheckpointer(model, "", trusted=True).load(path)
    assert isinstance(out["extra"], _Opaque)


def test_raw_state_dict_and_ddp_prefix(tiny_plugin, tmp_path):
    src = _model(tiny_plugin, tmp_path)
    path = str(tmp_path / "raw.pth")
    torch.save({"module." + k: v for k, v in src.state_dict().items()}, path)
    dst = _model(tiny_plugin, tmp_path)
    ReidCheckpointer(dst, "").load(path)
    assert torch.equal(src.backbone[0].weight, dst.backbone[0].weight)


def test_eval_only_refusals(tiny_plugin, tmp_path):
    model = _model(tiny_plugin, tmp_path)
    ck = ReidCheckpointer(model, "")
    with pytest.raises(EvalOnlyWeightsError, match="MODEL.WEIGHTS is empty"):
        ck.load_for_eval("")
    with pytest.raises(EvalOnlyWeightsError, match="does not exist"):
        ck.load_for_eval(str(tmp_path / "nope.pth"))
    sd = model.state_dict()
    missing = {k: v for k, v in sd.items() if k != "bottleneck.weight"}
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(EvalOnlyWeightsError, match="missing: bottleneck.weight"):
        ck.load_for_eval(str(tmp_path / "missing.pth"))
    wrong = dict(sd, **{"backbone.0.weight": torch.zeros(2, 3, 3, 3)})
    torch.save(wrong, tmp_path / "wrong.pth")
    with pytest.raises(EvalOnlyWeightsError, match=r"wrong shape: backbone.0.weight is \(2, 3, 3, 3\)"):
        ck.load_for_eval(str(tmp_path / "wrong.pth"))


def test_eval_only_skips_classifier_with_other_class_count(tiny_plugin, tmp_path, caplog):
    trained = _model(tiny_plugin, tmp_path, num_classes=7)
    torch.save({"model": trained.state_dict()}, tmp_path / "other_classes.pth")
    model = _model(tiny_plugin, tmp_path, num_classes=4)
    with caplog.at_level("WARNING"):
        ReidCheckpointer(model, "").load_for_eval(str(tmp_path / "other_classes.pth"))
    assert "classifier.weight" in caplog.text
    assert torch.equal(model.backbone[0].weight, trained.backbone[0].weight)
