"""PAENet declares its test-time input sources: the core, the evaluator and the tools ask it (gt marked
as label leakage; a label-free model defaults to its own predictions, a model trained on annotations
makes the user choose), and a foreign official checkpoint is named as such when another model gets it."""
import pytest
import torch

from fastreid_ext.modeling import build_model
from fastreid_ext.modeling.input_sources import declared_input_sources, leaking_sources, resolve_input_source
from fastreid_ext.utils.errors import UserError
from paenet_testkit import official_state_dict, paenet_cfg, small_opts


def _model(repo_root, config, extra=()):
    return build_model(paenet_cfg(repo_root, config, small_opts(extra=extra)))


def test_label_free_model_declares_predicted_and_defaults_to_it(repo_root, caplog):
    model = _model(repo_root, "configs/PAENet/sysu_labelfree.yml")
    assert list(declared_input_sources(model)) == ["gt", "predicted", "zeros"] and leaking_sources(model) == ["gt"]
    with caplog.at_level("INFO", logger="fastreid_ext.modeling.input_sources"):
        assert resolve_input_source(model, None) == "predicted"
    assert "no --attribute-source given, using the model's default source 'predicted'" in caplog.text  # says so
    assert resolve_input_source(model, "zeros") == "zeros"
    with pytest.raises(UserError, match="needs the images' annotations"):
        resolve_input_source(model, "gt", have_annotations=False)


def test_model_trained_on_annotations_makes_the_user_name_the_flag(repo_root):
    model = _model(repo_root, "configs/PAENet/sysu.yml")
    assert "predicted" not in declared_input_sources(model)  # no recognizer: no label-free source
    with pytest.raises(UserError) as e:
        resolve_input_source(model, None)
    msg = str(e.value)
    assert "pass --attribute-source with one of gt (the test images' annotations: label leakage)" in msg and "\n" not in msg
    with pytest.raises(UserError, match="--attribute-source predicted: PAENet declares the sources"):
        resolve_input_source(model, "predicted")


def test_official_paenet_file_into_the_baseline_names_the_format(repo_root, official_keys_file, tmp_path):
    from fastreid_ext.checkpoint import ReidCheckpointer
    from fastreid_ext.config import load_config

    path = tmp_path / "paenet_official.t"
    torch.save({"net": official_state_dict(official_keys_file)}, path)
    cfg = load_config(str(repo_root / "configs/Baseline/sysu.yml"), ["MODEL.BACKBONE.PRETRAIN", False,
                                                                      "MODEL.HEADS.NUM_CLASSES", 395, "IMPORTS", ["paenet"]])
    model = build_model(cfg)
    with pytest.raises(ValueError) as e:
        ReidCheckpointer(model).load(str(path))
    assert "is an official PAENet checkpoint (model_mine.py embed_net), but the model is CrossModalBaseline" in str(e.value)
    assert "MODEL.META_ARCHITECTURE: PAENet" in str(e.value)
