"""``--eval-only`` without usable weights stops before data preparation, the model and its printout."""
import os

import pytest

from fastreid_ext.engine import cli
from fastreid_ext.engine.defaults import DefaultTrainer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("weights, expected", [
    ("", "MODEL.WEIGHTS is empty; add e.g. MODEL.WEIGHTS output/model_final.pth"),
    ("nowhere/model_final.pth", "MODEL.WEIGHTS file 'nowhere/model_final.pth' does not exist"),
])
def test_eval_only_without_weights_fails_before_the_model(tmp_path, monkeypatch, capsys, weights, expected):
    def never(*args, **kwargs):
        raise AssertionError("the model was built")

    monkeypatch.setattr(DefaultTrainer, "build_model", classmethod(never))
    monkeypatch.setattr("fastreid_ext.data.prepare.prepare_datasets", never)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        cli.run_cli(["--config-file", os.path.join(REPO, "configs", "Baseline", "sysu.yml"), "--eval-only",
                     "OUTPUT_DIR", "out", "DATASETS.SYNTHETIC.PRESET", "default", "MODEL.WEIGHTS", weights])
    assert e.value.code == cli.USER_ERROR_EXIT_CODE
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: EvalOnlyWeightsError: ") and expected in err and "\n" not in err
    assert os.listdir(tmp_path) == []  # no data generated, no output folder, no config.yaml
