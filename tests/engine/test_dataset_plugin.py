"""A researcher adds a dataset with its own test protocol from their own package, named in IMPORTS:
it trains, evaluates, draws rank lists and embedding plots with no edit of the core."""
import json
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PLUGIN = '''
"""campusreid: one file of a researcher's package: dataset, generator and protocol."""
import os

import cv2
import numpy as np

from fastreid_ext.data.datasets import DATASET_REGISTRY, CrossModalDataset
from fastreid_ext.data.synthetic import register_generator
from fastreid_ext.evaluation import EvaluationProtocol, SameCameraRule, Task, register_protocol
from fastreid_ext.evaluation.protocol_api import draw_per_identity_camera, group_by_identity_camera

MODS = {"vis": "visible", "ir": "infrared"}


@register_generator("CampusPair", images_key="images_per_camera", short_name="campus")
def write_campus(root, seed=0, images_per_camera=2, **_):
    for split, pids in (("train", range(1, 7)), ("test", range(7, 11))):
        for pid in pids:
            for mod in MODS:
                for cam in (1, 2):
                    for k in range(images_per_camera):
                        rng = np.random.default_rng([seed, pid, cam, k, len(mod)])
                        img = (rng.random((32, 16, 3)) * 50 + pid * 20 + (40 if mod == "ir" else 0)).clip(0, 255)
                        os.makedirs(os.path.join(root, split, mod), exist_ok=True)
                        cv2.imwrite(os.path.join(root, split, mod, f"{pid:03d}_{cam}_{k}.png"), img.astype(np.uint8))
    return root


@DATASET_REGISTRY.register()
class CampusPair(CrossModalDataset):
    name = "CampusPair"
    protocol = "campus"
    dataset_dir = "campus"
    cameras = {1: "visible", 2: "visible"}  # both cameras record both modalities: modality from the folder

    @classmethod
    def list_images(cls, root, **options):
        def entries(split, mods):
            out = []
            for mod in mods:
                folder = os.path.join(root, split, mod)
                for f in sorted(os.listdir(folder)):
                    pid, cam, _ = f.split("_")
                    out.append((os.path.join(folder, f), int(pid), int(cam), int(pid), MODS[mod]))
            return out
        return {"train": entries("train", MODS), "query": entries("test", ["ir"]), "gallery": entries("test", ["vis"])}


@register_protocol
class CampusProtocol(EvaluationProtocol):
    """Infrared queries; per trial one visible image per (id, camera); same-camera matches removed."""

    name = "campus"
    camera_rule = SameCameraRule()

    def task_names(self, quick=False):
        return ["ir2vis"]

    def build_tasks(self, query, gallery, quick=False):
        groups = group_by_identity_camera(gallery.pids, gallery.camids, gallery.paths)
        draws = [draw_per_identity_camera(groups, (1, 2), t) for t in range(2)]
        return [Task("ir2vis", query, gallery, draws, self.camera_rule, True,
                     {"protocol": self.name, "num_trials": 2, "seeds": [0, 1]})]
'''


def _run(args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    p = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"{args}\nstdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}"
    return p


@pytest.mark.slow
def test_dataset_and_protocol_from_a_plugin(tmp_path):
    pkg = tmp_path / "researcher" / "campusreid"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    out = tmp_path / "out"
    cfg = {"_BASE_": os.path.join(REPO, "configs", "Baseline", "sysu.yml"), "IMPORTS": [str(pkg)],
           "OUTPUT_DIR": str(out), "SEED": 0,
           "MODEL": {"DEVICE": "cpu", "BACKBONE": {"DEPTH": 18, "PRETRAIN": False}},
           "INPUT": {"SIZE_TRAIN": [32, 16], "SIZE_TEST": [32, 16], "PADDING": 2},
           "DATASETS": {"NAMES": ["CampusPair"], "TESTS": ["CampusPair"], "ROOT": str(tmp_path / "data"),
                        "ATTRIBUTES": {"ENABLED": False}, "SYNTHETIC": {"PRESET": "default"}},
           "DATALOADER": {"NUM_WORKERS": 0, "IDS_PER_BATCH": 2, "NUM_INSTANCES": 2, "ITERS_PER_EPOCH": 2},
           "SOLVER": {"MAX_EPOCH": 1, "WARMUP_EPOCHS": 0, "STEPS": [100], "CHECKPOINT_PERIOD": 100},
           "TEST": {"EVAL_PERIOD": 0, "SAVE_FEATURES": True}}
    (tmp_path / "campus.yml").write_text(yaml.safe_dump(cfg))
    _run([os.path.join(REPO, "tools", "train_net.py"), "--config-file", str(tmp_path / "campus.yml")], tmp_path)
    payload = json.loads((out / "results.json").read_text())
    assert payload["protocol"] == "campus" and set(payload["results"]) == {"CampusPair/ir2vis"}
    run = payload["runs"][0]
    assert run["seeds"] == [0, 1] and len(run["per_trial"]) == 2 and 0 < run["per_trial"][0]["chance"] < 100

    vis = tmp_path / "vis"
    p = _run([os.path.join(REPO, "tools", "visualize_ranks.py"), "--config-file", str(out / "config.yaml"),
              "--queries", "0", "1", "--topk", "3", "--output", str(vis), "MODEL.WEIGHTS", str(out / "model_final.pth")],
             tmp_path)
    assert sorted(os.listdir(vis)) == ["CampusPair_ir2vis_image-only_FC_q00000.png", "CampusPair_ir2vis_image-only_FC_q00001.png"]
    tsne = tmp_path / "tsne.png"
    _run([os.path.join(REPO, "tools", "plot.py"), "tsne", str(out / "features.npz"), "--num-ids", "4", "--output", str(tsne)],
         tmp_path)
    assert tsne.stat().st_size > 1000
    assert "Wrote 2 rank lists" in p.stdout
