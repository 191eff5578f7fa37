"""The README's Table 6 comparison is read from the tables it summarises: the paper's Table 6 in
docs/benchmarks.md and the plug-in suite's generated block there (rows and paired differences, made
from the committed per-run summaries). Every cell of the README table must equal what those give, so a
rerun that changes one table without the others fails here."""
import re

import pytest

HEADING = "## PAE/AAL on five bases"
PLUGIN_BLOCK = "<!-- synthetic-benchmark:plugin:begin -->"
# README base label -> (paper Table 6 base row, its + PAE/AAL row, the plug-in suite's name, its base row label)
ROWS = {
    "AGW": ("AGW", "AGW + PAE/AAL", "AGW", "AGW"),
    "DDAG": ("DDAG", "DDAG + PAE/AAL", "DDAG", "DDAG"),
    "MPANet": ("MPANet", "MPANet + PAE/AAL", "MPANet", "MPANet"),
    "HCT (PCB, the paper's form)": ("HCT (the 6-stripe PCB form)", "HCT + PAE/AAL", "HCT (PCB)", "HCT (PCB)"),
    "HCT (global; not in the paper)": (None, None, "HCT (global)", "HCT (global)"),
    "MMD (+ PAE/AAL = PAENet)": ("MMD", "MMD + PAE/AAL (PAENet)", "MMD", "MMD (the baseline)"),
}


def _tables(text):
    """Every markdown table of ``text``: a list of rows, each a list of stripped cells (separator dropped)."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _table_after(text, marker, index=0):
    return _tables(text[text.index(marker):])[index]


@pytest.fixture(scope="module")
def docs(repo_root):
    readme = (repo_root / "README.md").read_text()
    bench = (repo_root / "docs" / "benchmarks.md").read_text()
    paper = {r[0]: r[1:] for r in _table_after(bench, "**The paper's Table 6**")[1:]}
    runs = {(r[0], r[1]): r for r in _table_after(bench, PLUGIN_BLOCK, 0)[1:]}  # (model, source) -> row
    comps = {(r[0], r[1]): r for r in _table_after(bench, PLUGIN_BLOCK, 1)[1:]}  # (comparison, metric) -> row
    readme_rows = {r[0]: r[1:] for r in _table_after(readme, HEADING)[1:]}
    return readme_rows, paper, runs, comps


def _expected_here(runs, comps, name, base_label):
    """The README's measured cells of one base: base, label-free, paired gain, on annotations gt / zeros."""
    base = runs.get((base_label, "–"))
    labelfree = runs.get((f"{name} + PAE/AAL, label-free", "predicted (label-free)"))
    if base is None or labelfree is None:
        return ["not run"] * 4
    comp = comps[(f"{name} + PAE/AAL label-free vs {name}", "Rank-1")]
    seeds = len(comp[2].split())
    gain = f"{comp[4]} {comp[5]} ({seeds} seed{'s' if seeds != 1 else ''})"
    ann = [k[0] for k in runs if k[0].startswith(f"{name} + PAE/AAL, trained on annotations")]
    if ann:
        annotations = f"{runs[(ann[0], 'gt (test labels: leakage)')][3]} / {runs[(ann[0], 'zeros')][3]}"
    else:
        annotations = "not rerun"
    return [base[3], labelfree[3], gain, annotations]


def test_readme_table_equals_the_paper_and_the_runs(docs):
    readme_rows, paper, runs, comps = docs
    assert set(readme_rows) == set(ROWS)
    for label, (paper_base, paper_plus, name, base_label) in ROWS.items():
        cells = readme_rows[label]
        if paper_base is None:
            assert cells[:2] == ["–", "–"], label
        else:
            base_r1, plus_r1 = float(paper[paper_base][2]), float(paper[paper_plus][2])  # SYSU all-search Rank-1
            assert float(cells[0]) == base_r1, label
            m = re.fullmatch(r"([\d.]+) \(\+([\d.]+)\)", cells[1])
            assert m and float(m[1]) == plus_r1 and float(m[2]) == pytest.approx(plus_r1 - base_r1, abs=5e-3), label
        assert cells[2:] == _expected_here(runs, comps, name, base_label), label


def test_every_base_of_the_paper_is_measured(docs):
    """The plug-in rerun covers each base of the paper's Table 6 with and without PAE/AAL (label-free)."""
    readme_rows, _, _, _ = docs
    for label, cells in readme_rows.items():
        assert "not run" not in cells[2:5], label
