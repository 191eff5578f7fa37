#!/usr/bin/env python
"""Write rank-list PNGs (query + top-k gallery, green = same identity, red = another one).

From saved features (TEST.SAVE_FEATURES writes OUTPUT_DIR/features.npz):
  tools/visualize_ranks.py --features output/features.npz --protocol all-single --num-queries 8 --output vis/
From a checkpoint (config + MODEL.WEIGHTS; features are extracted first):
  tools/visualize_ranks.py --config-file output/config.yaml --protocol visible2infrared --queries 0 5 \\
      --output vis/ MODEL.WEIGHTS output/model_final.pth
--protocol names a task of the dataset's protocol (SYSU <all|indoor>-<single|multi>, RegDB and LLCM
visible2infrared|infrared2visible; default: its first task), drawn as the evaluator draws trial --trial.
Models with a test-time input source (PAENet's attributes): --attribute-source (with --config-file; the
model says which it takes, and a label-free model defaults to its own predictions; saved features carry
theirs). Rankings use the evaluator's distances and test-time options (TEST.AQE, TEST.RERANK; --rerank
turns re-ranking on). Tiles show identity, camera and distance, the query its AP; file names hold dataset,
task, source, feature and options (e.g. SYSU_MM01_all-single_predicted_FC+flip+rerank_q00003.png).
Failure analysis (fast-reid's --rank-sort): --rank-sort ascending draws the --num-queries worst queries by
AP (descending: the best), file names then also hold the position and the AP
(..._FC_000_AP012.5_q00042.png), and the log lists them.
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
    p.add_argument("--rank-sort", choices=["none", "ascending", "descending"], default="none",
                   help="queries by AP over the task: ascending = worst first, descending = best first")
    p.add_argument("--seed", type=int, default=0, help="for the random queries")
    p.add_argument("--topk", type=int, default=10)
    p.add_argument("--distance", default=None, help="cosine | euclidean (default: TEST.RANKING.DISTANCE or cosine)")
    p.add_argument("--attribute-source", default=None,
                   help="test-time input source of models that take one (with --config-file; the model lists its own)")
    p.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking of the listed queries")
    p.add_argument("--per-image", type=int, default=1, help="queries per PNG, one below the other (e.g. 8 for a figure)")
    p.add_argument("--output", required=True, help="folder for the PNGs")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE (with --config-file)")
    return p.parse_args(argv)


def pools_from_checkpoint(args):
    """Build the dataset and model of the config, load MODEL.WEIGHTS, extract the pools."""
    from fastreid_ext.checkpoint import ReidCheckpointer
    from fastreid_ext.config import load_config
    from fastreid_ext.data.datasets.build import build_dataset
    from fastreid_ext.evaluation.cross_modality_evaluator import CrossModalityEvaluator
    from fastreid_ext.modeling import build_model
    from fastreid_ext.modeling.input_sources import resolve_input_source

    cfg = load_config(args.config_file, args.opts or [])
    model = build_model(cfg)
    ReidCheckpointer(model, trusted=cfg.MODEL.WEIGHTS_TRUSTED).load_for_eval(cfg.MODEL.WEIGHTS)
    source = resolve_input_source(model, args.attribute_source)
    if source:
        logging.getLogger(__name__).info("Test-time input source: %s", source)
    dataset = build_dataset(cfg, cfg.DATASETS.TESTS[0])
    evaluator = CrossModalityEvaluator.from_config(cfg, dataset, "")
    query, gallery = evaluator.extract_feature_sets(model, source)
    meta = {"dataset": dataset.name, "attribute_source": source or ""}
    return query, gallery, meta, evaluator.protocol, evaluator.ranking


def main(argv=None) -> list[str]:
    from dataclasses import replace

    from fastreid_ext.evaluation.protocol_api import PROTOCOL_REGISTRY
    from fastreid_ext.evaluation.rank_visualization import (protocol_pools, query_average_precisions, rows_by_ap,
                                                            write_rank_grids)
    from fastreid_ext.evaluation.saved_features import load_features
    from fastreid_ext.evaluation.types import RankingOptions
    from fastreid_ext.utils.errors import UserError

    args = parse_args(argv)
    if args.features:
        if args.opts or args.attribute_source:
            raise UserError("Config overrides and --attribute-source need --config-file (saved features carry their source).")
        query, gallery, meta = load_features(args.features)
        protocol = PROTOCOL_REGISTRY.get(meta["protocol"])()  # the protocol's default options
        ranking = RankingOptions()
    else:
        query, gallery, meta, protocol, ranking = pools_from_checkpoint(args)
    task = args.protocol or protocol.default_task()
    q, g, removal = protocol_pools(query, gallery, protocol, task, args.trial)
    if args.distance:
        ranking = replace(ranking, distance=args.distance)
    if args.rerank and not ranking.test_time.rerank:
        ranking = replace(ranking, test_time=replace(ranking.test_time, rerank=True))
    log = logging.getLogger(__name__)
    if args.rank_sort != "none":
        if args.queries:
            raise UserError("--rank-sort chooses the queries: give it without --queries.")
        aps = query_average_precisions(q, g, args.feature, removal, ranking)
        rows = rows_by_ap(aps, args.rank_sort)[: args.num_queries]
        log.info("Queries by AP (%s, %s): %s", args.rank_sort, task,
                 ", ".join(f"q{r} AP {100 * aps[r]:.1f}" for r in rows))
    elif args.queries:
        rows = args.queries
        bad = [r for r in rows if not 0 <= r < len(q)]
        if bad:
            raise UserError(f"--queries {bad} out of range 0..{len(q) - 1}.")
    else:
        rng = np.random.default_rng(args.seed)
        rows = sorted(rng.choice(len(q), min(args.num_queries, len(q)), replace=False).tolist())
    source = meta.get("attribute_source") or "image-only"
    prefix = f"{meta['dataset']}_{task}_{source}_{args.feature}{ranking.test_time.label}"
    if args.per_image < 1:
        raise UserError(f"--per-image {args.per_image}: expected 1 or more queries per PNG.")
    written = write_rank_grids(q, g, args.feature, rows, args.topk, args.output, prefix, removal, options=ranking,
                               numbered=args.rank_sort != "none", per_image=args.per_image)
    log.info("Wrote %d rank lists to %s", len(written), os.path.abspath(args.output))
    print(f"Wrote {len(written)} rank lists to {os.path.abspath(args.output)}")
    return written


if __name__ == "__main__":
    from fastreid_ext.engine.cli import run_tool

    run_tool(main)
