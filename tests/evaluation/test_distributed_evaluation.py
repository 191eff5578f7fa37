"""Evaluation under torch.distributed (GLOO, spawned CPU processes) gives the numbers of one process:
the shards are gathered on the main process in loader order, none duplicated or lost."""
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import BatchSampler, DataLoader, Dataset

from fastreid_ext.data.common import collate_batch
from fastreid_ext.data.samplers.inference_sampler import InferenceSampler
from fastreid_ext.evaluation.feature_extraction import extract_outputs, gather_in_loader_order

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Numbered(Dataset):
    """Sample i: a 1x1x1 image of value i, pid 100+i, camera i % 6, path p<i>."""

    def __init__(self, size):
        self.size = size

    def __len__(self):
        return self.size

    def __getitem__(self, i):
        return {"images": torch.full((1, 1, 1), float(i)), "targets": 100 + i, "camids": i % 6, "modality": i % 2,
                "attributes": torch.tensor([float(i % 2)]), "attribute_mask": torch.tensor([True]),
                "img_paths": f"p{i}", "index": i}


class _Echo(torch.nn.Module):
    def forward(self, batch):
        x = batch["images"].flatten(1)
        return {"FC": torch.cat([x, x * 2], 1), "attribute_probs": x / 10}


def _gather_worker(rank, world, init, sizes, out_dir):
    dist.init_process_group("gloo", init_method=init, world_size=world, rank=rank)
    try:
        for size in sizes:
            loader = DataLoader(_Numbered(size), batch_sampler=BatchSampler(InferenceSampler(size), 2, drop_last=False),
                                collate_fn=collate_batch)
            got = extract_outputs(_Echo(), loader, ["FC", "attribute_probs"], progress=False)
            torch.save(got, os.path.join(out_dir, f"size{size}_rank{rank}.pt"))
        # every rank claims row 0: duplicates, and row 1 is lost
        try:
            gather_in_loader_order({"FC": torch.ones(1, 2)}, {"targets": torch.tensor([7]), "indices": torch.tensor([0])}, 2)
            msg = "no error"
        except RuntimeError as e:
            msg = str(e)
        with open(os.path.join(out_dir, f"duplicate_rank{rank}.txt"), "w") as f:
            f.write(msg)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_gather_uneven_shards_in_loader_order(tmp_path):
    """2 ranks, batches of 2: uneven shards (5 = 3+2, the first cut inside a batch), an empty shard (1 = 1+0)."""
    world, sizes = 2, (5, 1)
    mp.start_processes(_gather_worker, args=(world, f"file://{tmp_path}/rdv", sizes, str(tmp_path)), nprocs=world,
                       start_method="spawn")
    for size in sizes:
        outputs, fields = torch.load(tmp_path / f"size{size}_rank0.pt", weights_only=False)
        idx = torch.arange(size, dtype=torch.float32).unsqueeze(1)
        assert torch.equal(outputs["FC"], torch.cat([idx, idx * 2], 1))
        assert torch.equal(outputs["attribute_probs"], idx / 10)
        assert fields["targets"].tolist() == [100 + i for i in range(size)]
        assert fields["camids"].tolist() == [i % 6 for i in range(size)]
        assert fields["img_paths"] == [f"p{i}" for i in range(size)]
        assert fields["attributes"].squeeze(1).tolist() == [float(i % 2) for i in range(size)]
        assert bool(fields["attribute_mask"].all()) and "indices" not in fields
        for rank in range(1, world):
            assert torch.load(tmp_path / f"size{size}_rank{rank}.pt", weights_only=False) is None
    assert "duplicated or missing" in (tmp_path / "duplicate_rank0.txt").read_text()
    assert (tmp_path / "duplicate_rank1.txt").read_text() == "no error"  # only the main process checks


def _eval_only(tmp_path, config, opts, weights, out, num_gpus):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file", config, "--eval-only",
           "--num-gpus", str(num_gpus), *map(str, opts), "MODEL.WEIGHTS", weights, "OUTPUT_DIR", str(out)]
    p = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"rc={p.returncode}\nstdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}"
    return json.loads((out / "inference" / "w" / "results.json").read_text())  # named after the weights file


@pytest.mark.slow
def test_eval_only_two_processes_equals_one(tmp_path, sysu_root):
    from fastreid_ext.config import load_config
    from fastreid_ext.data.datasets.build import build_dataset
    from fastreid_ext.engine import DefaultTrainer
    from fastreid_ext.utils.env import seed_all_rng

    opts = ["DATASETS.ROOT", str(sysu_root), "MODEL.DEVICE", "cpu", "SEED", 0, "MODEL.BACKBONE.PRETRAIN", False,
            "MODEL.BACKBONE.DEPTH", 18, "DATASETS.ATTRIBUTES.ENABLED", False, "INPUT.SIZE_TEST", [64, 32],
            # batches of one image: a convolution's float rounding can depend on the batch it runs in (oneDNN
            # picks its blocking by batch size), and 2 processes cut the batches elsewhere than 1 does
            "DATALOADER.NUM_WORKERS", 0, "TEST.IMS_PER_BATCH", 1, "TEST.SYSU.NUM_TRIALS", 2,
            "TEST.SYSU.MULTI_SHOT_IMAGES", 2, "OUTPUT_DIR", str(tmp_path / "setup")]
    config = os.path.join(REPO, "configs/Baseline/sysu.yml")
    cfg = load_config(config, opts)
    torch.set_num_threads(1)
    seed_all_rng(0)
    model = DefaultTrainer.build_model(cfg)
    for m in model.modules():  # non-trivial BatchNorm statistics, as a trained model has
        if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    model.eval()
    weights = str(tmp_path / "w.pth")
    torch.save({"model": model.state_dict()}, weights)

    cfg.defrost()
    cfg.OUTPUT_DIR = str(tmp_path / "one")
    DefaultTrainer.test(cfg, model)  # one process, in this one
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    two = _eval_only(tmp_path, config, opts, weights, tmp_path / "two", 2)
    dataset = build_dataset(cfg, "SYSU_MM01")
    assert one["results"] and two["results"] == one["results"]
    assert two["runs"] == one["runs"]  # per-trial numbers, seeds, gallery sizes
    for run in two["runs"]:
        assert run["num_query"] == len(dataset.query)
    drawn = max(max(r["gallery_sizes"]) for r in two["runs"])
    assert drawn > len(dataset.gallery) // 2  # drawn from the whole gallery set, not one rank's half
