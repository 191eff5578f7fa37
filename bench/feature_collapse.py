#!/usr/bin/env python
"""How much a trained model's features vary across test images, and how well its attribute heads
recognise the test images' attributes: the evidence for a collapsed backbone, read from a run folder.

    python bench/feature_collapse.py output/synthetic_benchmark/paenet_paper_gt/seed0 --attribute-source zeros

Reads ``<run>/config.yaml`` and ``<run>/model_final.pth`` (``--weights`` for another file), runs the
test split's query and gallery images (``--max-images`` evenly spaced ones) through the model and
reports, per feature (the base's pooled backbone feature ``backbone POOL``, its BNNeck output
``backbone FC`` and the model's retrieval feature ``retrieval <TEST.FEATURES[0]>``): the spread, the
mean over dimensions of the standard deviation across images, beside the mean absolute value (a
spread far below the value means every image gets nearly the same vector); and the attribute mA
(mean balanced accuracy, %) of PAENet's AAL heads and of its recognizer. The attribute source
(``--attribute-source``) defaults to the model's declared one; a model trained on annotations has
none, so it must be named (``gt`` is label leakage and is marked so).
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

__all__ = ["spread", "measure", "main"]


def spread(features: np.ndarray) -> dict[str, float]:
    """``{"spread": mean_d std_i x[i, d], "mean_abs": mean_d |mean_i x[i, d]|}`` of an (N, D) array."""
    x = np.asarray(features, dtype=np.float64)
    return {"spread": float(x.std(axis=0).mean()), "mean_abs": float(np.abs(x.mean(axis=0)).mean())}


def _records(cfg, max_images: int):
    from fastreid_ext.data.datasets.build import build_dataset

    data = build_dataset(cfg, cfg.DATASETS.TESTS[0])
    records = list(data.query) + list(data.gallery)
    if max_images and len(records) > max_images:
        records = [records[i] for i in np.linspace(0, len(records) - 1, max_images).round().astype(int)]
    return records


def measure(run_dir: str, weights: str = "", attribute_source: str | None = None, max_images: int = 0,
            opts=()) -> dict:
    """The figures of one run folder (see the module docstring), as a JSON-ready dict."""
    import torch

    from fastreid_ext.config import load_config
    from fastreid_ext.engine.predictor import DefaultPredictor
    from fastreid_ext.evaluation.attribute_metrics import attribute_recognition
    from fastreid_ext.modeling.input_sources import declared_input_sources, resolve_input_source, unwrap_model
    from fastreid_ext.utils.errors import UserError

    config = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(config):
        raise UserError(f"{run_dir} has no config.yaml: expected a training run folder (tools/train_net.py OUTPUT_DIR).")
    weights = weights or os.path.join(run_dir, "model_final.pth")
    cfg = load_config(config, ["MODEL.WEIGHTS", weights, "TEST.FLIP.ENABLED", "False", *opts])
    predictor = DefaultPredictor(cfg)
    model = unwrap_model(predictor.model)
    source = resolve_input_source(model, attribute_source)
    declared = declared_input_sources(model)
    records = _records(cfg, max_images)
    needs = bool(source) and declared[source].needs_annotations
    captured: dict[str, list] = {"heads": [], "recognizer": []}
    hooks = []
    for name in ("heads", "recognizer"):
        module = getattr(getattr(model, "aal", None), "heads", None) if name == "heads" else getattr(model, "recognizer", None)
        if module is not None:
            hooks.append(module.register_forward_hook(lambda m, i, o, n=name: captured[n].append(o.detach().cpu())))
    feats: dict[str, list] = {"backbone POOL": [], "backbone FC": [], f"retrieval {predictor.feature}": []}
    try:
        with torch.no_grad():
            for start in range(0, len(records), predictor.batch_size):
                chunk = records[start:start + predictor.batch_size]
                attrs = np.stack([r.attributes for r in chunk]) if needs else None
                mask = np.stack([r.attribute_mask for r in chunk]) if needs else None
                batch = predictor.batch([r.img_path for r in chunk], [r.modality for r in chunk], attrs, source, mask)
                base = getattr(model, "base", model)  # PAENet's base, or the model itself
                prepared = base.preprocess(batch)
                extracted = base.extract(prepared["images"], prepared["modality"])
                feats["backbone POOL"].append(extracted["POOL"].cpu())
                feats["backbone FC"].append(extracted["FC"].cpu())
                feats[f"retrieval {predictor.feature}"].append(model(batch)[predictor.feature].cpu())
    finally:
        for h in hooks:
            h.remove()
    out = {"run": os.path.abspath(run_dir), "weights": weights, "images": len(records), "attribute_source": source or "",
           "leaks_labels": bool(source) and declared[source].leaks_labels,
           "features": {k: spread(torch.cat(v).numpy()) for k, v in feats.items()}}
    targets = np.stack([r.attributes for r in records]) if records and np.size(records[0].attributes) else None
    for name, logits in captured.items():
        if logits and targets is not None:
            probs = torch.sigmoid(torch.cat(logits)).numpy()
            known = np.stack([r.attribute_mask for r in records])
            out[f"{name} mA"] = attribute_recognition(probs, targets, known).get("mA")
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a training run folder (config.yaml, model_final.pth)")
    p.add_argument("--weights", default="", help="a checkpoint other than <run>/model_final.pth")
    p.add_argument("--attribute-source", default=None, help="PAE's test-time input (default: the model's declared one)")
    p.add_argument("--max-images", type=int, default=0, help="evenly spaced test images (0: all)")
    p.add_argument("--json", default="", help="also write the figures here")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides (last; e.g. DATASETS.ROOT)")
    a = p.parse_args(argv)
    out = measure(a.run, a.weights, a.attribute_source, a.max_images, a.opts)
    source = out["attribute_source"] + (" (test labels: leakage)" if out["leaks_labels"] else "")
    print(f"{out['run']}: {out['images']} test images, attribute source {source or '–'}")
    for name, f in out["features"].items():
        print(f"  {name:24s} spread across images {f['spread']:.3g}, mean |value| {f['mean_abs']:.3g}")
    for name in ("heads mA", "recognizer mA"):
        if out.get(name) is not None:
            print(f"  {name:24s} {out[name]:.2f}")
    if a.json:
        from fastreid_ext.checkpoint import atomic_write_text

        atomic_write_text(json.dumps(out, indent=1) + "\n", a.json)
    return out


if __name__ == "__main__":
    from fastreid_ext.engine.cli import run_tool

    run_tool(main)
