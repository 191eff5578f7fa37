#!/usr/bin/env python
"""Write rank-list PNGs (query + top-k gallery, green = same identity, red = another one).

From saved features (TEST.SAVE_FEATURES writes OUTPUT_DIR/features.npz):
  tools/visualize_ranks.py --features output/features.npz --protocol all-single --num-queries 8 --output vis/
From a checkpoint (config + MODEL.WEIGHTS; features are extracted first):
  tools/visualize_ranks.py --config-file output/config.yaml --protocol visible2infrared --queries 0 5 \\
      --output vis/ MODEL.WEIGHTS output/model_final.pth
Protocols: SYSU <all|indoor>-<single|multi> (gallery of --trial), RegDB visible2infrared|infrared2visible.
Attribute models: --attribute-source gt|predicted|zeros (with --config-file; saved features carry theirs).
--rerank ranks with k-reciprocal re-ranking (TEST.RERANK.K1/K2/LAMBDA). Tiles show identity, camera and
distance, the query its AP; file names hold dataset, protocol, attribute source, feature and options
(e.g. SYSU_MM01_all-single_gt_FC+flip+rerank_q00003.png), so runs with other options do not overwrite them.
"""
from __future__ import annotations

import argparse
import logging
import os

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--features", help=".npz written by the evaluator with TEST.SAVE_FEATURES True")
    src.add_argument("--config-file", help="config of a trained model (MODEL.WEIGHTS given in it or in opts)")
    p.add_argument("--protocol", default="", help="default: all-single (SYSU) or visible2infrared (RegDB)")
    p.add_argument("--trial", type=int, default=0, help="SYSU gallery draw (seed)")
    p.add_argument("--feature", default="FC")
    p.add_argument("--queries", type=int, nargs="*", default=None, help="query rows (default: random ones)")
    p.add_argument("--num-queries", type=int, default=8)
    p.add_argument("--seed", type=int, default=0, help="for the random queries")
    p.add_argument("--topk", type=int, default=10)
    p.add_argument("--distance", default=None, help="cosine | euclidean (default: TEST.RANKING.DISTANCE or cosine)")
    p.add_argument("--attribute-source", default=None, choices=["gt", "predicted", "zeros"],
                   help="attribute models, with --config-file (gt: ground-truth test attributes, label leakage)")
    p.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking of the listed queries")
    p.add_argument("--output", required=True, help="folder for the PNGs")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE (with --config-file)")
    return p.parse_args(argv)


def pools_from_checkpoint(args):
    """Build the dataset and model of the config, load MODEL.WEIGHTS, extract the pools."""
    from fastreid_ext.checkpoint import ReidCheckpointer
    from fastreid_ext.config import load_config
    from fastreid_ext.data.datasets.build import build_dataset
    from fastreid_ext.engine.defaults import import_builtins
    from fastreid_ext.evaluation.cross_modality_evaluator import CrossModalityEvaluator
    from fastreid_ext.modeling import build_model

    import_builtins()
    cfg = load_config(args.config_file, args.opts or [])
    model = build_model(cfg)
    ReidCheckpointer(model, trusted=cfg.MODEL.WEIGHTS_TRUSTED).load_for_eval(cfg.MODEL.WEIGHTS)
    dataset = build_dataset(cfg, cfg.DATASETS.TESTS[0])
    query, gallery = CrossModalityEvaluator.from_config(cfg, dataset, "").extract_feature_sets(model, args.attribute_source)
    meta = {"dataset": dataset.name, "protocol": dataset.protocol, "distance": cfg.TEST.RANKING.DISTANCE,
            "backend": cfg.TEST.RANKING.BACKEND, "num_shots": cfg.TEST.SYSU.MULTI_SHOT_IMAGES,
            "attribute_source": args.attribute_source or "", "flip": bool(cfg.TEST.FLIP.ENABLED),
            "rerank": (cfg.TEST.RERANK.K1, cfg.TEST.RERANK.K2, cfg.TEST.RERANK.LAMBDA)}
    return query, gallery, meta


def main(argv=None) -> list[str]:
    from fastreid_ext.evaluation.rank_visualization import protocol_pools, write_rank_grids
    from fastreid_ext.evaluation.saved_features import load_features

    args = parse_args(argv)
    if args.features:
        if args.opts or args.attribute_source:
            raise SystemExit("Config overrides and --attribute-source need --config-file (saved features carry their source).")
        query, gallery, meta = load_features(args.features)
    else:
        query, gallery, meta = pools_from_checkpoint(args)
    protocol = args.protocol or ("all-single" if meta["protocol"] == "sysu" else "visible2infrared")
    q, g, removal = protocol_pools(query, gallery, protocol, args.trial, int(meta.get("num_shots", 10)))
    if args.queries:
        rows = args.queries
        bad = [r for r in rows if not 0 <= r < len(q)]
        if bad:
            raise SystemExit(f"Query rows {bad} out of range 0..{len(q) - 1}.")
    else:
        rng = np.random.default_rng(args.seed)
        rows = sorted(rng.choice(len(q), min(args.num_queries, len(q)), replace=False).tolist())
    distance = args.distance or meta.get("distance", "cosine")
    rerank = tuple(meta.get("rerank", (20, 6, 0.3))) if args.rerank else None
    options = ("+flip" if meta.get("flip") else "") + ("+rerank" if rerank else "")
    source = meta.get("attribute_source") or "noattr"
    prefix = f"{meta['dataset']}_{protocol}_{source}_{args.feature}{options}"
    written = write_rank_grids(q, g, args.feature, rows, args.topk, args.output, prefix,
                               removal, meta.get("backend", "auto"), distance, rerank=rerank)
    logging.getLogger(__name__).info("Wrote %d rank lists to %s", len(written), os.path.abspath(args.output))
    print(f"Wrote {len(written)} rank lists to {os.path.abspath(args.output)}")
    return written


if __name__ == "__main__":
    main()
