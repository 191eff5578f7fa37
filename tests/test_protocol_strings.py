"""No code compares against the SYSU / RegDB protocol names outside their own definitions: a new
dataset and protocol need no edit of the core (the extension issue's grep)."""
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[1]
DEFINITIONS = {"fastreid_ext/evaluation/sysu_protocol.py", "fastreid_ext/evaluation/regdb_protocol.py"}
# a comparison or membership test against a protocol name: == "sysu", != 'regdb', in ("sysu", ...), "sysu" ==
# (dataset names such as "RegDB" are another thing: a tool may be about one dataset)
PATTERN = re.compile(r"""(==|!=|\bin\b)\s*[\(\[\{]?\s*["'](sysu|regdb)["']|["'](sysu|regdb)["']\s*(==|!=)""")


def test_no_protocol_name_comparisons_outside_the_protocol_definitions():
    offenders = []
    for folder in ("fastreid_ext", "tools", "projects"):
        for path in (REPO / folder).rglob("*.py"):
            rel = path.relative_to(REPO).as_posix()
            if rel in DEFINITIONS or "/tests/" in rel:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if PATTERN.search(line):
                    offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_pattern_finds_what_it_should():
    assert PATTERN.search('if dataset.protocol == "sysu":') and PATTERN.search("x in ('sysu', 'regdb')")
    assert not PATTERN.search('protocol = "sysu"')
