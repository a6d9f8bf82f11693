"""``bundle check-config``: what a write-back into this bundle will have to touch.

For each target and each tuned cluster (tagged ``custom_tags["sync:project-id"]``, or the job
named with ``job_key``), one finding per fact: where the cluster is defined and that an
override can carry a recommendation; keys an override cannot delete (the sizing form, lists
the CLI would append to, ``cluster_log_conf``); clusters or fields given through
``${var...}``; variables set in ``.databricks/bundle/<t>/variable-overrides.json`` (git-ignored,
so CI deploys something else); ``include:`` entries outside ``databricks.yml`` (ignored by the
CLI); an override file that ``databricks.yml`` does not include. ``is_problem`` findings make the
command exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from airflow_gradient.core.bundles.documents import GENERATED_FILE, Bundle
from airflow_gradient.core.bundles.model import (
    cluster_layers,
    effective_job,
    job_keys,
    target_names,
    variable_references,
    whole_reference,
)
from airflow_gradient.core.cluster.locate import PROJECT_ID_TAG, ClusterLocation, locate_cluster
from airflow_gradient.core.cluster.paths import settings_entries
from airflow_gradient.core.cluster.spec import SIZING_FIELDS
from airflow_gradient.core.errors import BundleInputError, CoreError

__all__ = ["BundleFinding", "config_findings"]

PROBLEMS = ("variable-cluster", "variable-file", "ignored-include", "not-included", "no-cluster")
"""Finding kinds that stop a plain write-back or make CI deploy something else."""

#: Fields of a cluster an override cannot take away once the definition sets them.
_STICKY = (*SIZING_FIELDS, "cluster_log_conf")


@dataclass(frozen=True)
class BundleFinding:
    """One fact about the bundle; ``where`` is ``target/job/cluster path`` or a file."""

    where: str
    kind: str
    message: str

    @property
    def is_problem(self) -> bool:
        return self.kind in PROBLEMS

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "is_problem": self.is_problem}


def _tagged(job: Mapping[str, Any]) -> list[str]:
    """The project ids the job's clusters are tagged with, in order, once each."""
    specs = [e.get("new_cluster") for e in settings_entries(job, "job_clusters")]
    specs += [t.get("new_cluster") for t in settings_entries(job, "tasks")]
    found: list[str] = []
    for spec in specs:
        tags = spec.get("custom_tags") if isinstance(spec, Mapping) else None
        value = tags.get(PROJECT_ID_TAG) if isinstance(tags, Mapping) else None
        if isinstance(value, str) and value and value not in found:
            found.append(value)
    return found


def _overrides_file(bundle: Bundle, target: str) -> dict[str, Any]:
    path = bundle.root / ".databricks" / "bundle" / target / "variable-overrides.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _cluster_findings(
    bundle: Bundle, target: str, job_key: str, location: ClusterLocation
) -> list[BundleFinding]:
    where = f"{target}/{job_key}/{location.path}"
    layers = [
        layer
        for layer in cluster_layers(bundle, target, job_key, location.kind, location.key)
        if layer.file.path != GENERATED_FILE
    ]
    if not layers:
        return [BundleFinding(where, "no-cluster", "not written as a new_cluster in any file")]
    findings: list[BundleFinding] = []
    definition = layers[0]
    variable = whole_reference(definition.node()) if definition.definition else None
    local = _overrides_file(bundle, target)
    raw = [layer.node() for layer in layers]
    names = variable_references(raw)
    if variable is not None:
        findings.append(
            BundleFinding(
                where,
                "variable-cluster",
                f"given by ${{var.{variable}}} ({definition.where}): an override cannot be "
                "merged onto it; write-back needs --edit-base (edits the variable's value)",
            )
        )
    else:
        findings.append(
            BundleFinding(
                where,
                "override",
                f"defined in {definition.where}; write-back puts the recommendation in "
                f"{GENERATED_FILE} as a target override",
            )
        )
        for name in names:  # a whole-cluster reference is reported above
            findings.append(
                BundleFinding(
                    where,
                    "variable-field",
                    f"a field is given by ${{var.{name}}}: the CLI cannot merge an override of "
                    "another kind onto it; if the recommendation sets it, write-back needs "
                    "--edit-base",
                )
            )
        for layer in layers:
            node = layer.node()
            for key in _STICKY:
                if isinstance(node, Mapping) and key in node:
                    findings.append(
                        BundleFinding(
                            where,
                            "cannot-delete",
                            f"{key} is set in {layer.where}: an override cannot delete it, so "
                            "a recommendation that changes the sizing form (or the log "
                            "destination) needs --edit-base",
                        )
                    )
            for key, value in node.items() if isinstance(node, Mapping) else ():
                if isinstance(value, list):
                    findings.append(
                        BundleFinding(
                            where,
                            "cannot-delete",
                            f"{key} is a list in {layer.where}: the CLI appends an override's "
                            "list to it; replacing it needs --edit-base",
                        )
                    )
    for name in dict.fromkeys(n for n in (variable, *names) if n is not None):
        if name in local:
            findings.append(
                BundleFinding(
                    where,
                    "variable-file",
                    f"variable {name!r} is set in .databricks/bundle/{target}/"
                    "variable-overrides.json, which is git-ignored: CI deploys another value. "
                    "Move the value into databricks.yml (targets.<t>.variables)",
                )
            )
    return findings


def config_findings(
    bundle: Bundle,
    *,
    target: str | None = None,
    job_key: str | None = None,
    cluster_key: str | None = None,
) -> list[BundleFinding]:
    """The findings for ``target`` (or every target) and ``job_key`` (or every tagged job).

    :raises BundleInputError: unknown target or job; no tagged job and no ``job_key``.
    """
    targets = [target] if target else target_names(bundle)
    findings = [
        BundleFinding(
            path,
            "ignored-include",
            "holds include:, which the CLI reads only in databricks.yml; move the entries there",
        )
        for path in bundle.ignored_includes
    ]
    if (bundle.root / GENERATED_FILE).is_file() and not bundle.includes(GENERATED_FILE):
        findings.append(
            BundleFinding(
                GENERATED_FILE,
                "not-included",
                "exists but databricks.yml does not include it: deploys ignore the "
                "recommendations it holds; run `airflow-gradient bundle write-back` again",
            )
        )
    checked = 0
    for name in targets:
        for key in [job_key] if job_key else job_keys(bundle):
            job = effective_job(bundle, name, key)
            projects = _tagged(job)
            if not job_key and not projects:
                continue
            for project in projects or [""]:
                checked += 1
                try:
                    location = locate_cluster(
                        job,
                        job_id=f"{key} (bundle target {name})",
                        project_id=project or None,
                        cluster_key=cluster_key,
                    )
                except CoreError as exc:
                    findings.append(BundleFinding(f"{name}/{key}", "no-cluster", str(exc)))
                    continue
                findings += _cluster_findings(bundle, name, key, location)
    if not checked:
        raise BundleInputError(
            f"no job of the bundle has a cluster tagged {PROJECT_ID_TAG}; name one with --job"
        )
    return findings
