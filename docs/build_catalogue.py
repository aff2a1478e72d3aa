"""Regenerate docs/features.md from the feature registry: ``python docs/build_catalogue.py``."""

from pathlib import Path

from forensics.features._registry import catalogue_markdown

if __name__ == "__main__":
    page = Path(__file__).with_name("features.md")
    page.write_text(catalogue_markdown())
    print(f"wrote {page}")
