#!/usr/bin/env python
"""Export a trained model's inference path to ONNX, then check it against torch with onnxruntime.

  tools/export.py --config-file output/config.yaml --output model.onnx MODEL.WEIGHTS output/model_final.pth
  tools/export.py --config-file output/config.yaml --output model_gt.onnx --attribute-source gt MODEL.WEIGHTS ...

Graph inputs: ``images`` (B, 3, H, W) float32, already resized to INPUT.SIZE_TEST and normalised
(PIXEL_MEAN/PIXEL_STD; both are in the graph's metadata), ``modality`` (B,) int64 (0 visible,
1 infrared); for models with a test-time input source (the model declares them; PAENet's attributes), a
source that needs the images' annotations (PAENet's ``gt``) adds an ``attributes`` (B, n) input, any other
(``predicted``, ``zeros``) is baked into the graph (default: the first TEST.ATTRIBUTE_SOURCES entry that
does not leak labels, else the model's label-free default). Output ``features`` (B, D): the ``--feature`` output (default TEST.FEATURES[0]), not normalised,
without flip averaging. When onnxruntime is installed, the features of a random mixed-modality batch
are compared with torch's and the largest difference is printed.
"""
from __future__ import annotations

import argparse


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True)
    p.add_argument("--output", required=True, help=".onnx file to write")
    p.add_argument("--attribute-source", default=None,
                   help="test-time input source (the model lists its own): one needing annotations becomes an "
                        "input, any other is baked in")
    p.add_argument("--feature", default=None, help="model output exported (default: TEST.FEATURES[0])")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--random-init", action="store_true", help="export without MODEL.WEIGHTS (tests, timing)")
    p.add_argument("--batch", type=int, default=4, help="images of the onnxruntime check (0: no check)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE, e.g. MODEL.WEIGHTS w.pth")
    return p.parse_args(argv)


def check_against_torch(model, cfg, path: str, meta: dict, batch: int, seed: int = 0) -> float:
    """Largest absolute feature difference ONNX vs torch on a random batch of both modalities."""
    import torch

    from fastreid_ext.engine.onnx_export import run_onnx
    from fastreid_ext.modeling.inference_path import InferencePath

    h, w = meta["input_size"]
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, h, w, generator=g)
    modality = torch.arange(batch) % 2
    attributes = (torch.rand(batch, int(cfg.MODEL.NUM_ATTRIBUTES), generator=g) > 0.5).float() \
        if "attributes" in meta["inputs"] else None
    path_module = InferencePath(model, meta["feature"], meta["attribute_source"] or None).eval()
    with torch.no_grad():
        ref = path_module(images, modality, attributes).float().cpu().numpy()
    out = run_onnx(path, images.numpy(), modality.numpy(), None if attributes is None else attributes.numpy())
    return float(abs(out - ref).max())


def main(argv=None) -> dict:
    from fastreid_ext.checkpoint import ReidCheckpointer
    from fastreid_ext.config import load_config
    from fastreid_ext.engine.onnx_export import export_onnx
    from fastreid_ext.engine.setup import resolve_dataset_keys_if_readable
    from fastreid_ext.modeling import build_model
    from fastreid_ext.utils.errors import UserError

    args = parse_args(argv)
    cfg = load_config(args.config_file, args.opts or [], freeze=False)
    cfg.MODEL.DEVICE = "cpu"
    if not cfg.MODEL.WEIGHTS and not args.random_init:
        raise UserError("MODEL.WEIGHTS is empty: give the checkpoint to export "
                        "(or --random-init for an untrained model).")
    if args.random_init:
        cfg.MODEL.BACKBONE.PRETRAIN = False
        cfg.MODEL.BACKBONE.PRETRAIN_PATH = ""
    resolve_dataset_keys_if_readable(cfg)
    cfg.freeze()
    model = build_model(cfg)
    if cfg.MODEL.WEIGHTS:
        ReidCheckpointer(model, trusted=cfg.MODEL.WEIGHTS_TRUSTED).load_for_eval(cfg.MODEL.WEIGHTS)
    model.eval()
    meta = export_onnx(model, cfg, args.output, args.attribute_source, args.feature, args.opset)
    print(f"Wrote {args.output}: inputs {meta['inputs']} -> features ({meta['feature']}"
          f"{', attribute source ' + meta['attribute_source'] if meta['attribute_source'] else ''})")
    if args.batch > 0:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            print("onnxruntime not installed: no check against torch.")
            return meta
        meta["max_abs_diff"] = check_against_torch(model, cfg, args.output, meta, args.batch)
        print(f"onnxruntime vs torch on {args.batch} random images (both modalities): max |diff| = "
              f"{meta['max_abs_diff']:.2e}")
    return meta


if __name__ == "__main__":
    from fastreid_ext.engine.cli import run_tool

    run_tool(main)
