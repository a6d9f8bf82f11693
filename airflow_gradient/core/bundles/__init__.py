"""Databricks Asset Bundles: a model of how the CLI merges a target's job, what a write-back of
a recommendation touches, the write-back planner, and apply-time detection of bundle-owned jobs.

No Airflow, no network. Reading YAML needs ``ruamel.yaml`` (the ``bundle`` extra), loaded only
when a bundle is read; :mod:`.deployment` needs nothing. The CLI (``airflow-gradient bundle``)
fetches the recommendation, calls these functions and writes the texts they return.

Decisions where the issue was silent:

* **The override file** is ``gradient.generated.yml`` at the bundle root, included by one
  ``include:`` line (none when an existing glob already matches it). Its entries are built
  with THE merge rule (:func:`~airflow_gradient.core.cluster.merge.merge_recommendation`)
  applied to what the file held, so a later recommendation replaces the sizing form there.
* **Every plan is proved with the model** before any text is returned: the target's cluster
  equals the merged recommendation and every other job of every target is unchanged.
* **The model refuses merges of values of different kinds** (``num_workers: ${var.w}`` with an
  override ``num_workers: 4``) instead of guessing the CLI's result: write-back asks for
  ``--edit-base`` there.
* **``--edit-base``** deletes the keys that must go where they are written and carries the
  other targets' old values into their own entries of the override file (resolved values: a
  ``${var...}`` reference they had is carried as its value).
* **Modules**: :mod:`.documents` (files, YAML), :mod:`.model` (the merge model),
  :mod:`.overrides` (the tool-owned file), :mod:`.editing` (round-trip edits),
  :mod:`.drafts` (edits on a working copy, and the proof), :mod:`.write_back` (the planner),
  :mod:`.config_check`, :mod:`.deployment`.
"""

from __future__ import annotations

from airflow_gradient.core.bundles.config_check import PROBLEMS, BundleFinding, config_findings
from airflow_gradient.core.bundles.deployment import (
    BundleDecision,
    BundleFacts,
    BundleOwnership,
    bundle_decision,
    bundle_ownership,
)
from airflow_gradient.core.bundles.documents import GENERATED_FILE, Bundle, load_bundle
from airflow_gradient.core.bundles.model import effective_job, job_keys, target_names
from airflow_gradient.core.bundles.write_back import (
    WriteBackPlan,
    locate_bundle_cluster,
    plan_write_back,
)

__all__ = [
    "GENERATED_FILE",
    "PROBLEMS",
    "Bundle",
    "BundleDecision",
    "BundleFacts",
    "BundleFinding",
    "BundleOwnership",
    "WriteBackPlan",
    "bundle_decision",
    "bundle_ownership",
    "config_findings",
    "effective_job",
    "job_keys",
    "load_bundle",
    "locate_bundle_cluster",
    "plan_write_back",
    "target_names",
]
