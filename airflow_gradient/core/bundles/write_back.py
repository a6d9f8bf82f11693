"""Plan a write-back: the file texts that make a bundle target's effective cluster equal the
merged recommendation, and nothing else change.

The desired cluster is THE merge rule
(:func:`~airflow_gradient.core.cluster.merge.merge_recommendation`) applied to the target's
effective cluster (:func:`~airflow_gradient.core.bundles.model.effective_job`), the cluster
being the one :func:`~airflow_gradient.core.cluster.locate.locate_cluster` picks. The planner
then proves its edits with the model: after them, that cluster equals the desired one and
every other job of every target is what it was; otherwise it refuses.

* **Default**: the tool-owned override file holds the cluster's entry for the target (the same
  merge rule applied to what the file held), and ``databricks.yml`` gets one ``include:`` line.
* **When an override cannot express the change** (a key must go away: a sizing switch, a
  ``cluster_log_conf`` destination, a list the CLI would concatenate; or a ``${var.x}``
  cluster) the planner refuses, naming each key and the file that holds it, unless
  ``edit_base``: then the keys are deleted where they are written (round trip), and every other
  target that relied on them gets their old values in its own entry of the override file; a
  ``${var.x}`` cluster has the variable's value for the target edited in place. If another
  target or job would still change, it refuses and names them.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_gradient.core.bundles.documents import (
    GENERATED_FILE,
    Bundle,
    plain,
)
from airflow_gradient.core.bundles.drafts import (
    Draft,
    changed_elsewhere,
    cluster_of,
    read_overrides,
    snapshot,
    working_copy,
)
from airflow_gradient.core.bundles.editing import add_include, delete_at, render_edited, replace_at
from airflow_gradient.core.bundles.model import (
    Layer,
    cluster_layers,
    effective_job,
    target_names,
    variable_source,
    whole_reference,
)
from airflow_gradient.core.bundles.overrides import (
    cluster_entry,
    render_overrides,
    set_cluster_entry,
    set_field,
)
from airflow_gradient.core.cluster.diff import changed_fields
from airflow_gradient.core.cluster.locate import ClusterLocation, locate_cluster
from airflow_gradient.core.cluster.merge import merge_recommendation
from airflow_gradient.core.cluster.paths import format_path
from airflow_gradient.core.errors import BundleInputError, BundleWriteBackRefusedError
from airflow_gradient.core.json_values import json_equal

__all__ = ["WriteBackPlan", "locate_bundle_cluster", "plan_write_back"]


@dataclass(frozen=True)
class WriteBackPlan:
    """What a write-back writes: ``texts`` (path → whole new text) for the files that change."""

    target: str
    job_key: str
    location: ClusterLocation
    desired: dict[str, Any]
    texts: dict[str, str]
    originals: dict[str, str | None]
    edited_base: list[str] = field(default_factory=list)
    carried_to: list[str] = field(default_factory=list)

    @property
    def changes_files(self) -> bool:
        """False when the bundle already carries the recommendation (nothing to write)."""
        return bool(self.texts)

    def diff(self) -> str:
        """A unified diff of every file the write-back changes."""
        out: list[str] = []
        for path, text in self.texts.items():
            before = self.originals.get(path)
            out += difflib.unified_diff(
                (before or "").splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"a/{path}" if before is not None else "/dev/null",
                tofile=f"b/{path}",
            )
        return "".join(out)


def locate_bundle_cluster(
    bundle: Bundle,
    target: str,
    job_key: str,
    *,
    project_id: str | None = None,
    cluster_path: str | None = None,
    cluster_key: str | None = None,
) -> ClusterLocation:
    """The cluster of the target's effective job that the project tunes (THE locate rule)."""
    job = effective_job(bundle, target, job_key)
    return locate_cluster(
        job,
        job_id=f"{job_key} (bundle target {target})",
        project_id=project_id,
        cluster_path=cluster_path,
        cluster_key=cluster_key,
    )


def _refuse(summary: str, reasons: list[str], targets: list[str] | None = None) -> None:
    text = summary + " " + " ".join(reasons)
    raise BundleWriteBackRefusedError(text, reasons=reasons, targets=targets)


def _holders(layers: list[Layer], keys: tuple[str, ...]) -> list[Layer]:
    found = []
    for layer in layers:
        node = layer.node()
        for key in keys:
            node = node.get(key) if isinstance(node, Mapping) else None
        if node is not None:
            found.append(layer)
    return found


def _delete_keys(draft: Draft, layers: list[Layer], keys_list: list[tuple[str, ...]]) -> bool:
    """Delete each field from the user's layers that hold it; True when a definition changed."""
    definition_changed = False
    for keys in keys_list:
        for layer in _holders(layers, keys):
            file = draft.work.file(layer.file.path)
            assert file is not None
            if delete_at(file.document, (*layer.keys, *keys)):
                definition_changed |= layer.definition
                draft.mark_edited(file.path)
    return definition_changed


def _carry(
    draft: Draft,
    before: dict[tuple[str, str], Any],
    location: ClusterLocation,
    target: str,
    job_key: str,
) -> list[str]:
    """Give every other target the values it lost; return the targets that cannot keep them."""
    after = snapshot(draft.bundle())
    stuck: list[str] = []
    for other in target_names(draft.work):
        if other == target or json_equal(before.get((other, job_key)), after.get((other, job_key))):
            continue
        old = cluster_of(before[other, job_key], location.path)
        new = cluster_of(after[other, job_key], location.path)
        entry = cluster_entry(draft.overrides, other, job_key, location.kind, location.key) or {}
        for keys, was, _ in changed_fields(old, new):
            if was is None:
                stuck.append(other)
                break
            set_field(entry, keys, was)
        set_cluster_entry(draft.overrides, other, job_key, location.kind, location.key, entry)
        draft.carried.append(other)
    return stuck


def plan_write_back(
    bundle: Bundle,
    *,
    target: str,
    job_key: str,
    configuration: Mapping[str, Any],
    recommendation_id: str,
    project_id: str | None = None,
    cluster_path: str | None = None,
    cluster_key: str | None = None,
    edit_base: bool = False,
) -> WriteBackPlan:
    """Plan the write-back of a recommendation into ``target``'s job ``job_key``.

    :raises BundleInputError: unknown target or job, no such cluster, a bundle the model refuses.
    :raises BundleWriteBackRefusedError: an override cannot express the change and
        ``edit_base`` is off, or an edit would change another target or job.
    """
    location = locate_bundle_cluster(
        bundle,
        target,
        job_key,
        project_id=project_id,
        cluster_path=cluster_path,
        cluster_key=cluster_key,
    )
    what = f"cluster {location.path} of job {job_key!r}, target {target!r}"
    desired = merge_recommendation(
        location.spec, configuration, recommendation_id=recommendation_id
    )
    if json_equal(location.spec, desired):  # the bundle already carries it: nothing to write
        return WriteBackPlan(target, job_key, location, desired, {}, {})
    before = snapshot(bundle)
    draft = Draft(working_copy(bundle), copy.deepcopy(read_overrides(bundle)))
    layers = [
        layer
        for layer in cluster_layers(draft.work, target, job_key, location.kind, location.key)
        if layer.file.path != GENERATED_FILE
    ]
    if not layers:
        raise BundleInputError(
            f"the {what} is not written as a new_cluster mapping in any file of the bundle "
            "(for example a for_each_task's nested cluster); write it back by hand"
        )
    variable = whole_reference(layers[0].node()) if layers[0].definition else None
    if variable is not None:
        _plan_variable(draft, target, variable, configuration, recommendation_id, edit_base, what)
        set_cluster_entry(draft.overrides, target, job_key, location.kind, location.key, None)
    else:
        entry = cluster_entry(draft.overrides, target, job_key, location.kind, location.key)
        new_entry = merge_recommendation(
            entry or {}, configuration, recommendation_id=recommendation_id
        )
        set_cluster_entry(draft.overrides, target, job_key, location.kind, location.key, new_entry)
        blocked = _referenced(layers, new_entry)
        if not blocked:
            candidate = cluster_of(effective_job(draft.bundle(), target, job_key), location.path)
            blocked = [
                keys
                for keys, want, got in changed_fields(desired, candidate)
                if got is not None and (want is None or isinstance(got, list))
            ]
        if blocked and not edit_base:
            reasons = [_why(keys, desired, layers) for keys in blocked]
            _refuse(f"Cannot write the recommendation into the {what} with an override:", reasons)
        if blocked and _delete_keys(draft, layers, blocked):
            stuck = _carry(draft, before, location, target, job_key)
            if stuck:
                _refuse(
                    f"Editing the definition of the {what} would change other targets:",
                    [
                        f"target {t} would gain a field it does not have today, which an "
                        "override cannot remove"
                        for t in stuck
                    ],
                    stuck,
                )
    return _finish(bundle, draft, before, location, desired, target, job_key, what)


def _leaves(value: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for key, item in value.items():
        here = (*prefix, str(key))
        found += _leaves(item, here) if isinstance(item, Mapping) and item else [here]
    return found


def _at(node: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _referenced(layers: list[Layer], entry: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Fields the entry sets that a user's layer gives through ``${var...}`` (the CLI cannot
    merge a value of another kind onto a reference)."""
    found = []
    for keys in _leaves(entry):
        for step in range(1, len(keys) + 1):
            if any(whole_reference(_at(layer.node(), keys[:step])) for layer in layers):
                if keys[:step] not in found:
                    found.append(keys[:step])
                break
    return found


def _why(keys: tuple[str, ...], desired: Mapping[str, Any], layers: list[Layer]) -> str:
    path = format_path(list(keys))
    where = ", ".join(layer.where for layer in _holders(layers, keys)) or "the bundle"
    node = _at(desired, keys)
    if any(whole_reference(_at(layer.node(), keys)) for layer in layers):
        change = "it is a ${var...} reference, and the CLI cannot merge another value onto it"
    elif node is None:
        change = "the recommendation removes it, and an override cannot delete a key"
    else:
        change = (
            "it is a list, and the CLI appends an override's list to it instead of replacing it"
        )
    return f"{path} is set in {where}: {change}; pass --edit-base to edit it there."


def _plan_variable(  # noqa: PLR0917
    draft: Draft,
    target: str,
    variable: str,
    configuration: Mapping[str, Any],
    recommendation_id: str,
    edit_base: bool,
    what: str,
) -> None:
    file, keys = variable_source(draft.work, target, variable)
    where = f"{file.path}: {'.'.join(keys)}"
    if not edit_base:
        _refuse(
            f"Cannot write the recommendation into the {what} with an override:",
            [
                f"the cluster is given by ${{var.{variable}}} (value in {where}), and a map cannot "
                "be merged onto a variable reference; pass --edit-base to edit that value there."
            ],
        )
    node = file.document
    for key in keys:
        node = node[key]
    replace_at(
        file.document,
        keys,
        merge_recommendation(plain(node), configuration, recommendation_id=recommendation_id),
    )
    draft.mark_edited(file.path)


def _finish(  # noqa: PLR0917
    bundle: Bundle,
    draft: Draft,
    before: dict[tuple[str, str], Any],
    location: ClusterLocation,
    desired: dict[str, Any],
    target: str,
    job_key: str,
    what: str,
) -> WriteBackPlan:
    final = draft.bundle()
    after = snapshot(final)
    got = cluster_of(after.get((target, job_key)), location.path)
    if not json_equal(got, desired):
        differing = ", ".join(format_path(list(k)) for k, _, _ in changed_fields(desired, got))
        _refuse(
            f"The planned edits do not give the {what} the recommended values:",
            [f"these fields would still differ: {differing}."],
        )
    changed = changed_elsewhere(before, after, location, target, job_key)
    if changed:
        _refuse(
            f"Writing the recommendation into the {what} would also change:",
            [", ".join(changed) + "."],
            changed,
        )
    texts: dict[str, str] = {}
    originals: dict[str, str | None] = {}
    for path in draft.edited:
        file = draft.work.file(path)
        assert file is not None
        texts[path] = render_edited(file)
    existing = Path(bundle.root) / GENERATED_FILE
    needed = bool(draft.overrides) or existing.is_file()
    if needed:
        texts[GENERATED_FILE] = render_overrides(draft.overrides)
        originals[GENERATED_FILE] = (
            existing.read_text(encoding="utf-8") if existing.is_file() else None
        )
    if needed and not bundle.includes(GENERATED_FILE):
        root = draft.work.root_file
        add_include(root.document, GENERATED_FILE)
        texts[root.path] = render_edited(root)
    for file in bundle.files:
        originals.setdefault(file.path, file.text)
    texts = {path: text for path, text in texts.items() if text != originals.get(path)}
    return WriteBackPlan(
        target=target,
        job_key=job_key,
        location=location,
        desired=desired,
        texts=texts,
        originals={path: originals.get(path) for path in texts},
        edited_base=[p for p in draft.edited if p in texts],
        carried_to=draft.carried,
    )
