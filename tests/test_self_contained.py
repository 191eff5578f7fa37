"""The repository runs on its own: nothing reaches for reference data beside it, and the vendored
test assets are present and documented."""
import os
import re

SKIP_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", "datasets", "output", ".whl", ".gl", "results"}
OPTIONAL_LOADER = "conftest.py"
ALLOWED = {OPTIONAL_LOADER, os.path.join(".ci", "run")}  # the loader, and CI unsetting its variable
# a path to a reference-data folder beside the checkout, the variable that overrides it, or a join
# that builds such a path
OUTSIDE_REFERENCE = re.compile(r"\.\./shared\b|FASTREID_EXT_SHARED|/work/shared|[/,]\s*[\"']shared[\"']")


def _text_files(root):
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info") and not d.startswith("output")]
        for name in files:
            path = os.path.join(folder, name)
            if os.path.getsize(path) > 1_000_000:
                continue
            try:
                with open(path, encoding="utf-8") as f:
                    yield os.path.relpath(path, root), f.read()
            except UnicodeDecodeError:
                continue


def test_only_the_optional_loader_mentions_data_outside_the_repository(repo_root):
    offenders = [
        f"{rel}:{text[:m.start()].count(chr(10)) + 1}: {m.group(0)}"
        for rel, text in _text_files(repo_root)
        if rel not in ALLOWED and os.path.basename(rel) != "test_self_contained.py"
        for m in OUTSIDE_REFERENCE.finditer(text)
    ]
    assert not offenders, "references to data outside the repository:\n" + "\n".join(offenders)
    loader = (repo_root / OPTIONAL_LOADER).read_text()
    assert OUTSIDE_REFERENCE.search(loader), "the optional loader moved: update OPTIONAL_LOADER"


def test_vendored_assets_are_present_and_documented(repo_root, reference_data_dir):
    assets = repo_root / "tests" / "assets"
    if "FASTREID_EXT_SHARED" not in os.environ:
        assert reference_data_dir == assets
    readme = (assets / "README.md").read_text()
    files = sorted(str(p.relative_to(assets)) for p in assets.rglob("*")
                   if p.is_file() and p.name != "README.md" and "__pycache__" not in p.parts)
    assert len(files) == 15
    for rel in files:
        name = os.path.basename(rel)
        assert name in readme or re.sub(r"\d", "{1..6}", name) in readme, f"{rel} is not described in tests/assets/README.md"
    assert "MIT License" in (assets / "paenet_attributes" / "LICENSE").read_text()
