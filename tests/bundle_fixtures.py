"""Realistic Asset Bundles (tests/fixtures/bundles) and Gradient recommendations
(tests/fixtures/recommendations) re-tagged for a bundle's project, for the core and CLI tests."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
BUNDLES = FIXTURES / "bundles"

SINGLE_PROJECT = "11111111-2222-4333-8444-555555555555"
INCLUDES_PROJECT = "22222222-3333-4444-8555-666666666666"
VARIABLES_PROJECT = "33333333-4444-4555-8666-777777777777"


def recommendation_reply(name: str, project_id: str) -> dict[str, Any]:
    """The ``result`` of a recommendation fixture, tagged for ``project_id``."""
    result = json.loads((FIXTURES / "recommendations" / f"{name}.json").read_text())["result"]
    result = copy.deepcopy(result)
    result["recommendation"]["configuration"]["custom_tags"]["sync:project-id"] = project_id
    return dict(result)


def recommendation(name: str, project_id: str) -> tuple[str, dict[str, Any]]:
    """(id, configuration) of a recommendation fixture, tagged for ``project_id``."""
    result = recommendation_reply(name, project_id)
    return result["id"], result["recommendation"]["configuration"]


def copy_bundle(name: str, into: Path) -> Path:
    """Copy the fixture bundle ``name`` under ``into``; return its root."""
    target = into / name
    shutil.copytree(BUNDLES / name, target)
    return target


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` and its bytes (to prove nothing was touched)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
