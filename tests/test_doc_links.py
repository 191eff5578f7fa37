"""Every relative link of the repository's markdown resolves: the file exists relative to the page that
links it (as GitHub resolves it, not relative to the repository root), and a ``#anchor`` into a
markdown page names one of its headings. Pages moved between folders otherwise keep links that point
nowhere."""
import re
import subprocess

import pytest

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _markdown_files(repo_root):
    out = subprocess.run(["git", "-C", str(repo_root), "ls-files", "*.md"], capture_output=True, text=True, check=True)
    return [repo_root / p for p in out.stdout.split()]


def _prose(text):
    return re.sub(r"```.*?```", "", text, flags=re.S)  # links inside code fences are code, not links


def _anchors(text):
    """GitHub's heading anchors: lower case, punctuation other than '-' and '_' dropped, spaces to '-'."""
    anchors = set()
    for heading in re.findall(r"^#+\s+(.*?)\s*$", _prose(text), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    anchors |= set(re.findall(r'<a (?:name|id)="([^"]+)"', text))
    return anchors


def _links(repo_root):
    for page in _markdown_files(repo_root):
        for target in LINK.findall(_prose(page.read_text())):
            if not re.match(r"[a-z]+:", target):
                yield page, target


def test_the_repository_has_relative_links(repo_root):
    assert len(list(_links(repo_root))) > 20  # the check below reads real links


def test_relative_links_resolve(repo_root):
    broken = []
    for page, target in _links(repo_root):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path) if path else page
        if not dest.exists():
            broken.append(f"{page.relative_to(repo_root)}: {target} (no {dest.relative_to(repo_root) if dest.is_relative_to(repo_root) else dest})")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest.read_text()):
            broken.append(f"{page.relative_to(repo_root)}: {target} (no heading '#{anchor}' in {dest.name})")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("heading, anchor", [("## Threads under load", "threads-under-load"),
                                             ("## The 12-stop walk: a query feature", "the-12-stop-walk-a-query-feature")])
def test_anchor_rule(heading, anchor):
    assert anchor in _anchors(heading + "\n")
