"""Test-time input sources: what a model that takes more than the image (e.g. PAENet's attributes)
declares, so the engine, the evaluator and the tools ask the model instead of knowing its names.

A meta-architecture declares ``input_sources``: ``{name: InputSource}``; the evaluator feeds each
name of ``TEST.ATTRIBUTE_SOURCES`` in ``batch["attribute_source"]``. ``leaks_labels`` marks a source
that feeds the test images' annotations (results computed with it are label leakage, are labelled
so, and are never used to select a checkpoint); ``default_input_source`` is the one a tool uses when
the user names none (``None``: the user must choose).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from ..utils.errors import UserError

__all__ = ["InputSource", "declared_input_sources", "default_input_source", "leaking_sources", "resolve_input_source",
           "unwrap_model"]


@dataclass(frozen=True)
class InputSource:
    name: str
    description: str = ""
    leaks_labels: bool = False  # fed the test images' own annotations
    needs_annotations: bool = False  # needs per-image annotations at test time


def unwrap_model(model):
    """The meta-architecture inside DDP / flip / other wrappers (``.module`` or ``.model``)."""
    seen = set()
    while id(model) not in seen:
        seen.add(id(model))
        inner = getattr(model, "module", None) or getattr(model, "model", None)
        if inner is None or not hasattr(inner, "forward"):
            break
        model = inner
    return model


def declared_input_sources(model) -> dict[str, InputSource]:
    """The model's ``input_sources`` (empty: it takes the image only)."""
    return dict(getattr(unwrap_model(model), "input_sources", None) or {})


def default_input_source(model) -> str | None:
    return getattr(unwrap_model(model), "default_input_source", None) if declared_input_sources(model) else None


def leaking_sources(model) -> list[str]:
    return [name for name, s in declared_input_sources(model).items() if s.leaks_labels]


def resolve_input_source(model, requested: str | None, flag: str = "--attribute-source",
                         have_annotations: bool = True) -> str | None:
    """The source a tool uses: ``requested`` when the model declares it, else the model's default;
    one line naming ``flag`` and the choices when the model needs a choice or cannot take it."""
    sources = declared_input_sources(model)
    arch = type(unwrap_model(model)).__name__
    if not sources:
        if requested:
            raise UserError(f"{flag} {requested}: {arch} takes no test-time input besides the image; drop {flag}.")
        return None
    choices = ", ".join(f"{n} ({s.description})" if s.description else n for n, s in sources.items())
    if requested is None:
        default = default_input_source(model)
        if default is None:
            raise UserError(f"{arch} takes a test-time input source: pass {flag} with one of {choices}.")
        logging.getLogger(__name__).info("%s: no %s given, using the model's default source '%s' (choices: %s)",
                                         arch, flag, default, choices)
        requested = default
    if requested not in sources:
        raise UserError(f"{flag} {requested}: {arch} declares the sources {choices}.")
    if sources[requested].needs_annotations and not have_annotations:
        raise UserError(f"{flag} {requested} needs the images' annotations, which these images do not have; "
                        f"choose another of {choices}.")
    return requested
