"""Every module of the package ships in a built wheel: each folder with code is a package."""

from __future__ import annotations

from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]


def test_every_code_folder_is_found_as_a_package() -> None:
    found = set(find_packages(where=str(ROOT), include=["airflow_gradient*"]))
    code_folders = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "airflow_gradient").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert code_folders - found == set()
