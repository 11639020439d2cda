"""The README's links into the repository (the docs' source pages, tutorials, examples) exist."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_relative_links_of_the_readme_exist():
    text = (ROOT / "README.md").read_text()
    links = [target for target in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", target)]
    assert len(links) > 10  # the tour links into the docs
    missing = [target for target in links if not (ROOT / target.split("#")[0]).exists()]
    assert not missing, f"README links to missing files: {missing}"
