"""The benchmark's rows mean what their names say: the budget's layer4 map is the size it states
(at least 4×2), the two PAENet variants are compared under one recipe, the paper's recipe is its own
row, the controls switch what they name, every compared row has 5 seeds, and nothing defaults to
the test images' annotations."""
import importlib.util
import re

import pytest
import torch


@pytest.fixture(scope="module")
def rows(repo_root):
    spec = importlib.util.spec_from_file_location("benchmark_rows", repo_root / "bench" / "benchmark_rows.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def budget(repo_root):
    import yaml

    def flat(node, prefix=""):
        out = []
        for k, v in node.items():
            out += flat(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}", repr(v) if isinstance(v, list) else str(v)]
        return out

    path = repo_root / "configs" / "Benchmark" / "budget.yml"
    return flat(yaml.safe_load(path.read_text())), path.read_text()


def _cfg(repo_root, row, budget):
    from fastreid_ext.config import load_config

    return load_config(str(repo_root / row.config), [*row.overrides, *budget[0]])


def test_budget_layer4_map_is_the_stated_size(repo_root, budget):
    """Build the budget's baseline and measure its feature map on an image of INPUT.SIZE_TEST."""
    from fastreid_ext.config import load_config
    from fastreid_ext.modeling import build_model

    stated = re.search(r"LAYER4_MAP: (\d+)x(\d+)", budget[1])
    assert stated, "configs/Benchmark/budget.yml must state its layer4 map ('# LAYER4_MAP: HxW')"
    cfg = load_config(str(repo_root / "configs" / "Baseline" / "sysu.yml"), budget[0])
    model = build_model(cfg).eval()
    h, w = cfg.INPUT.SIZE_TEST
    with torch.no_grad():
        fmap = model.extract(torch.zeros(2, 3, h, w), torch.tensor([0, 1]))["MAP"]
    size = tuple(fmap.shape[-2:])
    assert size == (int(stated.group(1)), int(stated.group(2)))
    assert size[0] >= 4 and size[1] >= 2, f"layer4 map {size}: PAE's spatial parts need at least 4x2"


def _differing(a, b, prefix=""):
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differing(va, vb, f"{prefix}{k}.")
        elif va != vb and k not in ("OUTPUT_DIR",):
            out.append(f"{prefix}{k}")
    return out


def test_variants_share_one_recipe_and_the_papers_is_its_own_row(repo_root, rows, budget):
    paenet = {r.key: r for r in rows.SUITES["paenet"]}
    cfgs = {k: _cfg(repo_root, r, budget) for k, r in paenet.items()}
    for ref, paper in (("paenet_reference_labelfree", "paenet_paper_labelfree"), ("paenet_reference_gt", "paenet_paper_gt")):
        assert _differing(cfgs[ref], cfgs[paper]) == ["PAENET.VARIANT"], (ref, paper)
    recipe = _differing(cfgs["paenet_paper_gt"], cfgs["paenet_paper_gt_paper_recipe"])
    assert set(recipe) == {"MODEL.BACKBONE.SHARED_FROM", "MODEL.LOSSES.HCTRI.SCALE", "MODEL.LOSSES.MMD.SCALE"}, recipe
    assert "paper's recipe" in paenet["paenet_paper_gt_paper_recipe"].label


def test_controls_switch_what_they_name(repo_root, rows, budget):
    paenet = {r.key: r for r in rows.SUITES["paenet"]}
    c = {k: _cfg(repo_root, paenet[k], budget).PAENET for k in
         ("baseline_region_branch", "baseline_attribute_head", "region_attribute_loss")}
    switches = lambda p: (p.PAE.ENABLED, p.AAL.ENABLED, p.REGION_BRANCH, p.RECOGNIZER.ENABLED)  # noqa: E731
    assert switches(c["baseline_region_branch"]) == (False, False, True, False)
    assert switches(c["baseline_attribute_head"]) == (False, False, False, True)
    assert c["baseline_attribute_head"].RECOGNIZER.NAME == "linear"
    assert switches(c["region_attribute_loss"]) == (False, True, True, False)


def test_compared_rows_have_five_seeds_and_exist(rows):
    for suite, comparisons in rows.COMPARISONS.items():
        by_key = {r.key: r for r in rows.SUITES[suite]}
        for comp in comparisons:
            for key, source in (comp.a, comp.b):
                assert key in by_key, (suite, comp.name, key)
                if key == comp.a[0] == comp.b[0]:
                    continue  # one model under two inputs
                assert by_key[key].seeds >= 5 or "gt" in key, (comp.name, key)
            assert comp.a != comp.b


def test_nothing_defaults_to_test_annotations(repo_root, rows, budget):
    """No config file or bench script sets gt as a default source; every row resolves to none or a
    label-free one (gt is evaluated only where a row lists it in TEST.ATTRIBUTE_SOURCES)."""
    for path in list((repo_root / "configs").rglob("*.yml")) + list((repo_root / "bench").glob("*.py")):
        text = re.sub(r"#.*", "", path.read_text())
        assert not re.search(r"DEFAULT_ATTRIBUTE_SOURCE\W+gt", text), path
    for suite in rows.SUITES.values():
        for row in suite:
            cfg = _cfg(repo_root, row, budget)
            if "PAENET" in cfg:
                assert cfg.PAENET.DEFAULT_ATTRIBUTE_SOURCE in ("", "predicted"), row.key
