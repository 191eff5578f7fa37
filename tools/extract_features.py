#!/usr/bin/env python
"""Features of a folder of images or of a dataset split, saved as one .npz.

  tools/extract_features.py --config-file output/config.yaml --split gallery --output gallery.npz \\
      MODEL.WEIGHTS output/model_final.pth
  tools/extract_features.py --config-file output/config.yaml --folder my_images/ --modality infrared \\
      --output mine.npz MODEL.WEIGHTS output/model_final.pth

The .npz holds ``features`` (N, D) float32 (not normalised), ``paths``, ``pids``, ``camids`` (-1 for a
folder), ``modality`` (visible | infrared per image), ``feature`` (the output name), ``dataset`` and
``attribute_source``. Splits: query | gallery | train of the first ``DATASETS.TESTS`` entry (or
``--dataset``); split images keep their annotations for a source that needs them (PAENet's ``gt``:
label leakage, named so in the file).
"""
from __future__ import annotations

import argparse
import os

import numpy as np

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--folder", help="images found recursively (jpg, png, bmp)")
    src.add_argument("--split", choices=["query", "gallery", "train"], help="a split of the dataset")
    p.add_argument("--dataset", default="", help="dataset of --split (default: DATASETS.TESTS[0])")
    p.add_argument("--modality", choices=["visible", "infrared"], help="modality of the --folder images")
    p.add_argument("--feature", default=None, help="model output (default: TEST.FEATURES[0])")
    p.add_argument("--attribute-source", default=None,
                   help="test-time input source of models that take one (the model lists its own; a label-free "
                        "model defaults to its predictions)")
    p.add_argument("--output", required=True, help=".npz file to write")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE, e.g. MODEL.WEIGHTS w.pth")
    return p.parse_args(argv)


def extract(args) -> dict:
    from fastreid_ext.config import load_config
    from fastreid_ext.engine.predictor import DefaultPredictor, image_files
    from fastreid_ext.modeling.input_sources import declared_input_sources, resolve_input_source
    from fastreid_ext.utils.errors import UserError

    cfg = load_config(args.config_file, args.opts or [])
    predictor = DefaultPredictor(cfg, args.feature)
    source = resolve_input_source(predictor.model, args.attribute_source, have_annotations=not args.folder)
    needs_annotations = bool(source) and declared_input_sources(predictor.model)[source].needs_annotations
    if args.folder:
        if not args.modality:
            raise UserError("--folder needs --modality visible|infrared.")
        paths = image_files(args.folder, "--folder")
        mods = [args.modality] * len(paths)
        pids = camids = np.full(len(paths), -1)
        attributes = mask = None
        dataset = ""
    else:
        from fastreid_ext.data.datasets.build import build_dataset

        dataset = args.dataset or cfg.DATASETS.TESTS[0]
        records = getattr(build_dataset(cfg, dataset), args.split)
        if not records:
            raise UserError(f"The {args.split} split of {dataset} is empty.")
        paths, mods = [r.img_path for r in records], [r.modality for r in records]
        pids, camids = np.array([r.pid for r in records]), np.array([r.camid for r in records])
        attributes = np.stack([r.attributes for r in records]) if needs_annotations else None
        mask = np.stack([r.attribute_mask for r in records]) if needs_annotations else None
    feats = predictor(paths, mods, attributes=attributes, attribute_source=source, attribute_mask=mask)
    return {"features": feats.numpy().astype(np.float32), "paths": np.array(paths, dtype=str), "pids": pids,
            "camids": camids, "modality": np.array(mods, dtype=str), "feature": np.array(predictor.feature),
            "dataset": np.array(dataset), "attribute_source": np.array(source or "")}


def main(argv=None) -> str:
    args = parse_args(argv)
    arrays = extract(args)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    np.savez(args.output, **arrays)
    print(f"Wrote {arrays['features'].shape[0]} x {arrays['features'].shape[1]} {arrays['feature']} features to {args.output}")
    return args.output


if __name__ == "__main__":
    from fastreid_ext.engine.cli import run_tool

    run_tool(main)
