"""The README's Table 6 comparison is read from the two tables it summarises: the paper's Table 6 and
the synthetic plug-in runs in docs/benchmarks.md. Every cell of the README table and of the gains table
must equal what those give, so a rerun that changes one table without the others fails here."""
import re

import pytest

HEADING = "## PAE/AAL on five bases"
# README base label -> (paper Table 6 base row, its + PAE/AAL row, the plug-in suite's label prefix)
ROWS = {
    "AGW": ("AGW", "AGW + PAE/AAL", "AGW"),
    "DDAG": ("DDAG", "DDAG + PAE/AAL", None),
    "MPANet": ("MPANet", "MPANet + PAE/AAL", None),
    "HCT (paper: PCB; here: global)": ("HCT (the 6-stripe PCB form)", "HCT + PAE/AAL", "HCT (global)"),
    "MMD (+ PAE/AAL = PAENet)": ("MMD", "MMD + PAE/AAL (PAENet)", "MMD"),
}
GAIN_ROWS = {"AGW": "AGW", "DDAG": "DDAG", "MPANet": "MPANet", "HCT": "HCT (paper: PCB; here: global)",
             "MMD": "MMD (+ PAE/AAL = PAENet)"}


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


def _table_after(text, marker):
    return _tables(text[text.index(marker):])[0]


def _mean(cell):
    return float(cell.split("±")[0])


@pytest.fixture(scope="module")
def docs(repo_root):
    readme = (repo_root / "README.md").read_text()
    bench = (repo_root / "docs" / "benchmarks.md").read_text()
    paper = {r[0]: r[1:] for r in _table_after(bench, "**The paper's Table 6**")[1:]}
    gains = {r[0]: r[1:] for r in _table_after(bench, "**Gains set side by side**")[1:]}
    plugin = _table_after(bench, "The paper's Table 6 layout (plug-in on other bases)")
    runs = {(r[0], r[1]): r[3] for r in plugin[1:]}  # (model, test-time attributes) -> Rank-1
    readme_rows = {r[0]: r[1:] for r in _table_after(readme, HEADING)[1:]}
    return readme_rows, paper, gains, runs


def _here(runs, prefix):
    """The plug-in suite's Rank-1 cells of one base: base, label-free, on annotations with gt and zeros."""
    ann = next(k for k in runs if k[0].startswith(prefix + " + PAE/AAL, trained on annotations"))[0]
    return (runs[(prefix if prefix != "MMD" else "MMD (the baseline)", "–")],
            runs[(f"{prefix} + PAE/AAL, label-free", "predicted (label-free)")],
            runs[(ann, "gt (test labels: leakage)")], runs[(ann, "zeros")])


def test_readme_table_equals_the_paper_and_the_runs(docs):
    readme_rows, paper, _, runs = docs
    assert set(readme_rows) == set(ROWS)
    for label, (paper_base, paper_plus, prefix) in ROWS.items():
        cells = readme_rows[label]
        base_r1, plus_r1 = float(paper[paper_base][2]), float(paper[paper_plus][2])  # SYSU all-search Rank-1
        assert float(cells[0]) == base_r1, label
        m = re.fullmatch(r"([\d.]+) \(\+([\d.]+)\)", cells[1])
        assert m and float(m[1]) == plus_r1 and float(m[2]) == pytest.approx(plus_r1 - base_r1, abs=5e-3), label
        if prefix is None:
            assert cells[2:] == ["not run"] * 4, label
        else:
            assert tuple(cells[2:]) == _here(runs, prefix), label


def test_gains_table_is_the_difference_of_the_tables(docs):
    readme_rows, paper, gains, runs = docs
    assert set(gains) == set(GAIN_ROWS)
    for base, label in GAIN_ROWS.items():
        paper_base, paper_plus, prefix = ROWS[label]
        row = gains[base]
        paper_gain = float(paper[paper_plus][2]) - float(paper[paper_base][2])
        assert float(re.match(r"\+?([-\d.]+)", row[0])[1]) == pytest.approx(paper_gain, abs=5e-3), base
        if prefix is None:
            assert row[1:] == ["not run"] * 3, base
            continue
        base_cell, labelfree, gt, zeros = (_mean(c) for c in _here(runs, prefix))
        for cell, value in zip(row[1:], (gt, zeros, labelfree)):
            number = float(re.match(r"([+−-][\d.]+)", cell)[1].replace("−", "-"))
            assert number == pytest.approx(value - base_cell, abs=5e-3), (base, cell)
