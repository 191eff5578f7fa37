#!/usr/bin/env python
"""Figures of runs as PNG (matplotlib; t-SNE needs scikit-learn: pip install -e .[plots]).

  tools/plot.py curves output/run_a [output/run_b ...] --output curves.png       # metrics.json: losses, lr, evaluations
  tools/plot.py cmc output/run_a [output/run_b/results.json ...] --feature FC --output cmc.png
  tools/plot.py tsne output/baseline/features.npz output/paenet/features.npz --labels baseline PAENet --output tsne.png
  tools/plot.py attention --config-file a/config.yaml --weights a/model_final.pth --label baseline \\
      --config-file b/config.yaml --weights b/model_final.pth --label PAENet --images x.jpg y.jpg \\
      --modality visible infrared --output cam.png                                 # Grad-CAM on layer4
  tools/plot.py distances output/run_a/features.npz --feature FC --output dist.png  # positive/negative pair distances
  tools/plot.py sweep output/lambda_* --key PAENET.AAL.LOSS_WEIGHT --output sweep.png

Every subcommand writes one PNG (``--dpi``, default 100) and prints its path.
"""
from __future__ import annotations

import argparse


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("curves", help="training curves from metrics.json")
    c.add_argument("runs", nargs="+")
    c.add_argument("--labels", nargs="*")
    c.add_argument("--metrics", default=None, help="regex of evaluation keys (default: Rank-1/mAP tracked while training)")
    m = sub.add_parser("cmc", help="CMC curves from results.json")
    m.add_argument("runs", nargs="+", help="run folders or results.json files")
    m.add_argument("--feature", default=None, help="e.g. FC (default: every feature)")
    m.add_argument("--labels", nargs="*")
    t = sub.add_parser("tsne", help="t-SNE of saved features, one panel per file")
    t.add_argument("features", nargs="+", help="features .npz (evaluator or tools/extract_features.py)")
    t.add_argument("--labels", nargs="*")
    t.add_argument("--feature", default="FC")
    t.add_argument("--num-ids", type=int, default=10)
    t.add_argument("--seed", type=int, default=0)
    a = sub.add_parser("attention", help="Grad-CAM maps of one or more models on the same images")
    a.add_argument("--config-file", action="append", required=True)
    a.add_argument("--weights", action="append", required=True)
    a.add_argument("--label", action="append", default=None)
    a.add_argument("--images", nargs="+", required=True)
    a.add_argument("--modality", nargs="+", required=True, help="one for all images, or one per image")
    a.add_argument("--attribute-source", default=None,
                   help="test-time input source of models that take one (default: the model's label-free one)")
    d = sub.add_parser("distances", help="positive / negative pair-distance histograms per task of saved features")
    d.add_argument("features", help="features .npz written by the evaluator (TEST.SAVE_FEATURES True)")
    d.add_argument("--feature", default="FC")
    d.add_argument("--distance", default="cosine", choices=["cosine", "euclidean"])
    s = sub.add_parser("sweep", help="metrics of several runs against one config value")
    s.add_argument("runs", nargs="+")
    s.add_argument("--key", default="PAENET.AAL.LOSS_WEIGHT")
    s.add_argument("--metric", nargs="*", default=None, help="flattened result keys (default: Rank-1 and mAP)")
    for q in (c, m, t, a, d, s):
        q.add_argument("--output", required=True, help="PNG to write")
        q.add_argument("--dpi", type=int, default=100)
    return p.parse_args(argv)


def main(argv=None) -> str:
    from fastreid_ext.utils.errors import UserError

    args = parse_args(argv)
    if args.command == "curves":
        from fastreid_ext.visualization.curves import plot_training_curves

        out = plot_training_curves(args.runs, args.output, args.labels, args.dpi, args.metrics)
    elif args.command == "cmc":
        from fastreid_ext.visualization.curves import plot_cmc

        out = plot_cmc(args.runs, args.output, args.feature, args.labels, args.dpi)
    elif args.command == "tsne":
        from fastreid_ext.visualization.embedding import plot_tsne

        out = plot_tsne(args.features, args.output, args.labels, args.feature, args.num_ids, args.seed, args.dpi)
    elif args.command == "attention":
        from fastreid_ext.config import load_config
        from fastreid_ext.engine.predictor import DefaultPredictor
        from fastreid_ext.visualization.attention import plot_attention

        if len(args.config_file) != len(args.weights):
            raise UserError(f"{len(args.config_file)} --config-file but {len(args.weights)} --weights: give one per model.")
        labels = args.label or [f"model {i + 1}" for i in range(len(args.weights))]
        modalities = args.modality * len(args.images) if len(args.modality) == 1 else args.modality
        if len(modalities) != len(args.images):
            raise UserError(f"{len(args.modality)} --modality values for {len(args.images)} images: give one, or one per image.")
        predictors = [DefaultPredictor(load_config(c, ["MODEL.WEIGHTS", w])) for c, w in zip(args.config_file, args.weights)]
        out = plot_attention(predictors, labels, args.images, modalities, args.output, args.attribute_source, args.dpi)
    elif args.command == "distances":
        from fastreid_ext.visualization.distance_histograms import plot_distances

        out = plot_distances(args.features, args.output, args.feature, args.distance, args.dpi)
    else:
        from fastreid_ext.visualization.curves import plot_sweep

        out = plot_sweep(args.runs, args.output, args.key, args.metric, args.dpi)
    print(f"Wrote {out}")
    return out


if __name__ == "__main__":
    from fastreid_ext.engine.cli import run_tool

    run_tool(main)
