"""A write-back being planned: edits on a working copy of the bundle, and the model's view of
every job of every target before and after them (what the planner proves its edits with)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_gradient.core.bundles.documents import (
    GENERATED_FILE,
    Bundle,
    BundleFile,
    glob_names,
    parse_yaml,
    plain,
)
from airflow_gradient.core.bundles.model import effective_job, job_keys, target_names
from airflow_gradient.core.bundles.overrides import render_overrides
from airflow_gradient.core.cluster.locate import ClusterLocation
from airflow_gradient.core.cluster.update import cluster_spec_at
from airflow_gradient.core.errors import BundleInputError
from airflow_gradient.core.json_values import json_equal

__all__ = [
    "Draft",
    "changed_elsewhere",
    "cluster_of",
    "read_overrides",
    "snapshot",
    "with_overrides",
    "working_copy",
]


def working_copy(bundle: Bundle) -> Bundle:
    """The bundle parsed again from its texts: edits of it leave ``bundle`` as it was."""
    files = [BundleFile(f.path, f.text, parse_yaml(f.text, path=f.path)) for f in bundle.files]
    return Bundle(bundle.root, files, list(bundle.ignored_includes), list(bundle.include_globs))


def with_overrides(bundle: Bundle, data: Mapping[str, Any]) -> Bundle:
    """``bundle`` with the override file holding ``data``, where the CLI would load it: at the
    first ``include:`` glob that names it (even before it exists), else last (the line the
    write-back adds)."""
    text = render_overrides(data)
    generated = BundleFile(GENERATED_FILE, text, parse_yaml(text, path=GENERATED_FILE))
    files = [f for f in bundle.files if f.path != GENERATED_FILE]
    at = len(files)
    if bundle.file(GENERATED_FILE) is not None:
        at = [f.path for f in bundle.files].index(GENERATED_FILE)
    else:
        for pattern in bundle.include_globs:
            if glob_names(pattern, GENERATED_FILE):
                at = _position(bundle, files, pattern)
                break
    files.insert(at, generated)
    return Bundle(bundle.root, files, bundle.ignored_includes, bundle.include_globs)


def _position(bundle: Bundle, files: list[BundleFile], pattern: str) -> int:
    """Where a new file named by ``pattern`` goes: among that glob's matches, in sorted order,
    after the files of the globs before it."""
    patterns = bundle.include_globs
    earlier = patterns[: patterns.index(pattern)]
    at = 1  # after the root file
    for file in files[1:]:
        named_before = any(glob_names(p, file.path) for p in earlier)
        same_glob_before = glob_names(pattern, file.path) and file.path < GENERATED_FILE
        if not (named_before or same_glob_before):
            break
        at += 1
    return at


def snapshot(bundle: Bundle) -> dict[tuple[str, str], Any]:
    """The effective job of every job of every target (an error's text where it fails)."""
    jobs: dict[tuple[str, str], Any] = {}
    for target in target_names(bundle):
        for key in job_keys(bundle):
            try:
                jobs[target, key] = effective_job(bundle, target, key)
            except BundleInputError as exc:
                jobs[target, key] = f"error: {exc}"
    return jobs


def cluster_of(job: Any, path: str) -> dict[str, Any]:
    """The cluster at ``path`` of an effective job (``{}`` when none, or the job failed)."""
    return (cluster_spec_at(job, path) or {}) if isinstance(job, Mapping) else {}


def _without_cluster(job: Any, location: ClusterLocation) -> Any:
    if not isinstance(job, Mapping):
        return job
    job = copy.deepcopy(dict(job))
    field_name, name = (
        ("job_clusters", "job_cluster_key")
        if location.kind == "job_cluster"
        else ("tasks", "task_key")
    )
    for entry in job.get(field_name) or []:
        if isinstance(entry, dict) and entry.get(name) == location.key:
            entry.pop("new_cluster", None)
    return job


def read_overrides(bundle: Bundle) -> dict[str, Any]:
    """The override file's data: from the bundle, else from disk when it exists unincluded."""
    generated = bundle.file(GENERATED_FILE)
    if generated is not None:
        return generated.data
    path = Path(bundle.root) / GENERATED_FILE
    if not path.is_file():
        return {}
    data = plain(parse_yaml(path.read_text(encoding="utf-8"), path=GENERATED_FILE))
    return data if isinstance(data, dict) else {}


@dataclass
class Draft:
    """The edits being planned, on a working copy of the bundle."""

    work: Bundle
    overrides: dict[str, Any]
    edited: list[str] = field(default_factory=list)
    carried: list[str] = field(default_factory=list)

    def bundle(self) -> Bundle:
        return with_overrides(self.work, self.overrides)

    def mark_edited(self, path: str) -> None:
        """Record an edit of ``path``'s document (its plain data is read again)."""
        self.work.files = [f.edited() if f.path == path else f for f in self.work.files]
        if path not in self.edited:
            self.edited.append(path)


def changed_elsewhere(
    before: dict[tuple[str, str], Any],
    after: dict[tuple[str, str], Any],
    location: ClusterLocation,
    target: str,
    job_key: str,
) -> list[str]:
    """The other targets and jobs whose effective job changed (for the refusal's names)."""
    changed = []
    for (other, key), job in after.items():
        old, now = before.get((other, key)), job
        if (other, key) == (target, job_key):
            old, now = _without_cluster(old, location), _without_cluster(job, location)
        if not json_equal(old, now):
            changed.append(f"target {other} (job {key})" if key != job_key else f"target {other}")
    return changed
