#!/usr/bin/env python
"""Search query images in a saved gallery: top-k by FAISS (torch when faiss is missing), printed and
drawn as a rank-list PNG (one row per query).

  tools/extract_features.py --config-file output/config.yaml --split gallery --output gallery.npz \\
      MODEL.WEIGHTS output/model_final.pth
  tools/search.py --gallery gallery.npz --config-file output/config.yaml --query a.jpg b.jpg \\
      --modality infrared --topk 10 --output ranks.png MODEL.WEIGHTS output/model_final.pth

``--query`` takes image files and/or folders. The query features come from the same model and output
(``feature`` stored in the gallery file) and are ranked by the evaluator's ranking function with the
config's test-time options (``TEST.RANKING.DISTANCE``, ``TEST.FLIP``, ``TEST.AQE``, ``TEST.RERANK``). Models
with a test-time input source take ``--attribute-source`` (a label-free model defaults to its own
predictions; the model lists the sources it takes).
"""
from __future__ import annotations

import argparse
import os

import numpy as np

GALLERY_KEYS = ("features", "paths", "pids", "camids", "feature")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gallery", required=True, help=".npz written by tools/extract_features.py")
    p.add_argument("--config-file", required=True)
    p.add_argument("--query", nargs="+", required=True, help="image files or folders")
    p.add_argument("--modality", required=True, choices=["visible", "infrared"], help="modality of the query images")
    p.add_argument("--attribute-source", default=None, help="test-time input source of models that take one")
    p.add_argument("--topk", type=int, default=10)
    p.add_argument("--query-ids", type=int, nargs="*", default=None,
                   help="identity of each query image (as the gallery's pids): frames green (same) / red (other)")
    p.add_argument("--output", default="", help="rank-list PNG to write (optional)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE, e.g. MODEL.WEIGHTS w.pth")
    return p.parse_args(argv)


def load_gallery(path: str) -> dict:
    from fastreid_ext.utils.errors import UserError

    if not os.path.isfile(path):
        raise UserError(f"--gallery {path}: no such file (write one with tools/extract_features.py).")
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in GALLERY_KEYS if k not in z.files]
        if missing:
            raise UserError(f"--gallery {path}: missing {missing}; expected a file written by tools/extract_features.py.")
        return {k: z[k] for k in z.files}


def query_paths(items) -> list[str]:
    from fastreid_ext.engine.predictor import image_files
    from fastreid_ext.utils.errors import UserError

    paths = []
    for item in items:
        if os.path.isdir(item):
            paths += image_files(item, "--query")
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise UserError(f"--query {item}: no such image or folder.")
    return paths


def search(args):
    """(query paths, distances (Q, k), gallery indices (Q, k), gallery dict)."""
    import logging

    import torch

    from fastreid_ext.config import load_config
    from fastreid_ext.engine.predictor import DefaultPredictor
    from fastreid_ext.evaluation.ranking import ranked_rows
    from fastreid_ext.evaluation.types import FeatureSet, RankingOptions
    from fastreid_ext.modeling.input_sources import resolve_input_source

    gallery = load_gallery(args.gallery)
    paths = query_paths(args.query)
    cfg = load_config(args.config_file, args.opts or [])
    predictor = DefaultPredictor(cfg, str(gallery["feature"]))
    source = resolve_input_source(predictor.model, args.attribute_source, have_annotations=False)
    if source:
        logging.getLogger(__name__).info("Test-time input source: %s", source)
    qf = predictor(paths, args.modality, attribute_source=source)
    name = str(gallery["feature"])
    n = len(paths)
    query = FeatureSet({name: qf}, np.full(n, -1), np.full(n, -1), list(paths))
    g = FeatureSet({name: torch.from_numpy(gallery["features"])}, gallery["pids"], gallery["camids"],
                   [str(p) for p in gallery["paths"]])
    options = RankingOptions.from_config(cfg)
    ranked = ranked_rows(query, g, name, range(n), options)
    k = min(args.topk, len(g))
    dist = np.array([d[:k] for _, d in ranked], dtype=np.float32)
    idx = np.array([r[:k] for r, _ in ranked], dtype=np.int64)
    return paths, dist, idx, gallery


def draw(paths, dist, idx, gallery, out: str, query_ids=None) -> str:
    """One PNG, a row per query; with ``query_ids`` the ranked tiles are framed by correctness, as the
    evaluator's rank lists (unknown identities: grey)."""
    import cv2

    from fastreid_ext.evaluation.rank_visualization import _stack, render_rank_grid
    from fastreid_ext.evaluation.types import FeatureSet
    from fastreid_ext.utils.errors import UserError

    if query_ids is not None and len(query_ids) != len(paths):
        raise UserError(f"--query-ids: {len(query_ids)} ids for {len(paths)} query images; give one per image.")
    pids = np.asarray(query_ids if query_ids is not None else [-1] * len(paths))
    query = FeatureSet({}, pids, np.full(len(paths), -1), list(paths))
    g = FeatureSet({}, gallery["pids"], gallery["camids"], [str(p) for p in gallery["paths"]])
    rows = [render_rank_grid(query, g, i, idx[i].tolist(), distances=dist[i].tolist()) for i in range(len(paths))]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if not cv2.imwrite(out, _stack(rows)):
        raise OSError(f"Could not write {out}.")
    return out


def main(argv=None):
    from tabulate import tabulate

    args = parse_args(argv)
    paths, dist, idx, gallery = search(args)
    for i, path in enumerate(paths):
        rows = [[r + 1, f"{dist[i, r]:.4f}", int(gallery["pids"][j]), int(gallery["camids"][j]), str(gallery["paths"][j])]
                for r, j in enumerate(idx[i])]
        print(f"query {path}:\n" + tabulate(rows, headers=["rank", "distance", "pid", "camid", "path"]))
    if args.output:
        print(f"Wrote {draw(paths, dist, idx, gallery, args.output, args.query_ids)}")
    return paths, dist, idx


if __name__ == "__main__":
    from fastreid_ext.engine.cli import run_tool

    run_tool(main)
