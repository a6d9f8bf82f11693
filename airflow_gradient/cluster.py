"""Which cluster of a Databricks job a Gradient project tunes, and what applying changes in it.

Pure functions over the JSON shapes of the Databricks Jobs API (the ``settings`` object of
``jobs/get``, ``ClusterSpec`` dicts): no I/O, no clock, no Airflow. The operator fetches, calls
these to decide, and writes what they return.

Path notation (used by :func:`diff_cluster`, :func:`format_path` and in error messages): a field
whose name is an identifier (``[A-Za-z_][A-Za-z0-9_]*``) is joined with a dot
(``aws_attributes.availability``); any other map key is written in brackets as a JSON string
(``custom_tags["sync:project-id"]``, ``spark_conf["spark.databricks.isv.product"]``), so keys
that contain dots stay unambiguous; a list index is ``[0]``. This matches the way Terraform
addresses map entries.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from airflow_gradient.exceptions import (
    AmbiguousClusterError,
    ClusterNotFoundError,
    InvalidClusterSpecError,
    UnsupportedClusterError,
)

__all__ = [
    "PROJECT_ID_TAG",
    "RECOMMENDATION_ID_TAG",
    "ClusterLocation",
    "applied_recommendation_id",
    "cluster_spec_at",
    "diff_cluster",
    "format_diff",
    "format_path",
    "locate_cluster",
    "merge_recommendation",
    "update_settings_for",
    "validate_cluster_spec",
]

PROJECT_ID_TAG = "sync:project-id"
"""Custom tag that ties a cluster to the Gradient project tuning it."""

RECOMMENDATION_ID_TAG = "sync:recommendation-id"
"""Custom tag that says which Gradient recommendation is in force on a cluster."""

SIZING_FIELDS = ("num_workers", "autoscale")
"""The two mutually exclusive ways to size a cluster."""

CLOUD_ATTRIBUTE_FIELDS = ("aws_attributes", "azure_attributes", "gcp_attributes")
LOG_DESTINATIONS = ("dbfs", "s3", "volumes")

log = logging.getLogger(__name__)

JOB_CLUSTERS_PREFIX = "job_clusters/"
TASKS_PREFIX = "tasks/"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

PathKey = str | int
ClusterKind = Literal["job_cluster", "task"]
ComputeKind = Literal["new_cluster", "job_cluster", "existing_cluster", "serverless"]


# --- path notation ------------------------------------------------------------------------


def format_path(keys: Sequence[PathKey]) -> str:
    """Render a sequence of dict keys / list indexes in the module's path notation.

    >>> format_path(["custom_tags", "sync:project-id"])
    'custom_tags["sync:project-id"]'
    """
    parts: list[str] = []
    for position, key in enumerate(keys):
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _IDENTIFIER.fullmatch(key):
            parts.append(key if position == 0 else f".{key}")
        else:
            parts.append(f"[{json.dumps(key, ensure_ascii=False)}]")
    return "".join(parts)


def _show(value: Any) -> str:
    """A value as compact, key-sorted JSON (for messages and tables)."""
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    except (TypeError, ValueError):
        return repr(value)


def _equal(left: Any, right: Any) -> bool:
    """JSON equality: like ``==`` but ``True`` is not ``1`` (nor ``False`` ``0``)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_equal, left, right))
    return bool(left == right)


# --- where the cluster is -----------------------------------------------------------------


@dataclass(frozen=True)
class ClusterLocation:
    """The cluster of a job that a Gradient project tunes, and why this one was chosen.

    For a ``for_each_task`` whose nested task has its own cluster, ``kind`` is ``"task"`` and
    ``key`` is the *outer* task's key: that is the entry ``jobs/update`` replaces.
    """

    kind: ClusterKind
    key: str
    spec: dict[str, Any]
    reason: str

    @property
    def path(self) -> str:
        """Gradient's ``cluster_path`` form: ``job_clusters/<key>`` or ``tasks/<key>``."""
        return _cluster_path(self.kind, self.key)


def _cluster_path(kind: ClusterKind, key: str) -> str:
    prefix = JOB_CLUSTERS_PREFIX if kind == "job_cluster" else TASKS_PREFIX
    return f"{prefix}{key}"


@dataclass(frozen=True)
class _Cluster:
    """A cluster the job defines (a job cluster or a task's own ``new_cluster``)."""

    kind: ClusterKind
    key: str
    spec: Mapping[str, Any]
    names: tuple[str, ...]  # keys that name it: its own key, plus a nested for-each task key

    @property
    def path(self) -> str:
        return _cluster_path(self.kind, self.key)


@dataclass(frozen=True)
class _TaskCompute:
    """What one top-level task runs on (for a ``for_each_task``: what its nested task runs on)."""

    task_key: str
    nested_key: str | None
    compute: ComputeKind
    detail: str  # job_cluster_key, existing_cluster_id or environment_key ("" if none)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.task_key,) if self.nested_key is None else (self.task_key, self.nested_key)

    def describe(self) -> str:
        if self.compute == "existing_cluster":
            return f"task {self.task_key!r} runs on the all-purpose cluster {self.detail!r}"
        if self.compute == "serverless":
            how = f"environment_key {self.detail!r}" if self.detail else "no cluster field"
            return f"task {self.task_key!r} runs on serverless compute ({how})"
        if self.compute == "job_cluster":
            return f"task {self.task_key!r} runs on the job cluster {self.detail!r}"
        return f"task {self.task_key!r} has its own cluster"


@dataclass(frozen=True)
class _Inventory:
    clusters: list[_Cluster]
    tasks: list[_TaskCompute]

    def listing(self) -> str:
        """What the job has, for "not found" messages."""
        if not self.clusters:
            return "the job defines no job cluster and no task cluster"
        return "the job's clusters are " + ", ".join(c.path for c in self.clusters)


def _entries(settings: Mapping[str, Any], field: str) -> list[Mapping[str, Any]]:
    value = settings.get(field)
    if not isinstance(value, list):
        return []
    return [entry for entry in value if isinstance(entry, Mapping)]


def _own_compute(task: Mapping[str, Any]) -> tuple[ComputeKind, str] | None:
    """The compute a task declares itself, or None when it declares none."""
    if isinstance(task.get("new_cluster"), Mapping):
        return "new_cluster", ""
    if task.get("job_cluster_key"):
        return "job_cluster", str(task["job_cluster_key"])
    if task.get("existing_cluster_id"):
        return "existing_cluster", str(task["existing_cluster_id"])
    if task.get("environment_key"):
        return "serverless", str(task["environment_key"])
    return None


def _nested_task(task: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for_each = task.get("for_each_task")
    if isinstance(for_each, Mapping) and isinstance(for_each.get("task"), Mapping):
        nested: Mapping[str, Any] = for_each["task"]
        return nested
    return None


def _inventory(settings: Mapping[str, Any]) -> _Inventory:
    clusters: list[_Cluster] = []
    for entry in _entries(settings, "job_clusters"):
        key, spec = entry.get("job_cluster_key"), entry.get("new_cluster")
        if isinstance(key, str) and key and isinstance(spec, Mapping):
            clusters.append(_Cluster("job_cluster", key, spec, (key,)))

    tasks: list[_TaskCompute] = []
    for task in _entries(settings, "tasks"):
        task_key = task.get("task_key")
        if not isinstance(task_key, str) or not task_key:
            continue
        nested = _nested_task(task)
        own = _own_compute(task)
        holder: Mapping[str, Any] = task
        nested_key: str | None = None
        if own is None and nested is not None:
            raw_nested_key = nested.get("task_key")
            nested_key = raw_nested_key if isinstance(raw_nested_key, str) else None
            own = _own_compute(nested)
            holder = nested
        compute, detail = own if own is not None else ("serverless", "")
        info = _TaskCompute(task_key, nested_key, compute, detail)
        tasks.append(info)
        if compute == "new_cluster":
            clusters.append(_Cluster("task", task_key, holder["new_cluster"], info.names))
    return _Inventory(clusters, tasks)


def _split_cluster_path(value: str) -> tuple[ClusterKind, str] | None:
    """``job_clusters/<k>`` / ``tasks/<k>`` → (kind, key); anything else → None."""
    forms: tuple[tuple[str, ClusterKind], ...] = (
        (JOB_CLUSTERS_PREFIX, "job_cluster"),
        (TASKS_PREFIX, "task"),
    )
    for prefix, kind in forms:
        if value.startswith(prefix) and len(value) > len(prefix):
            return kind, value[len(prefix) :]
    return None


def _location(cluster: _Cluster, reason: str) -> ClusterLocation:
    return ClusterLocation(cluster.kind, cluster.key, copy.deepcopy(dict(cluster.spec)), reason)


def _task_without_cluster_error(
    task: _TaskCompute, *, context: str, asked: str, inventory: _Inventory
) -> Exception:
    """The error for a name that points at a task with no cluster of its own."""
    if task.compute == "existing_cluster":
        return UnsupportedClusterError(
            f"{context}: {asked} points at task {task.task_key!r}, which runs on the all-purpose "
            f"cluster {task.detail!r}. Gradient tunes job clusters; move the task to a job "
            f"cluster (job_clusters or new_cluster). {inventory.listing()}."
        )
    if task.compute == "serverless":
        return UnsupportedClusterError(
            f"{context}: {asked} points at task {task.task_key!r}, which has no cluster of its "
            "own (serverless compute, or a task that needs none): serverless compute has no "
            f"cluster to tune. {inventory.listing()}."
        )
    return ClusterNotFoundError(
        f"{context}: {asked} points at task {task.task_key!r}, which runs on the job cluster "
        f"{task.detail!r} and has no cluster of its own. Name the job cluster instead "
        f"(cluster_key={JOB_CLUSTERS_PREFIX + task.detail!r}); note that it is shared by every "
        "task that uses it."
    )


def _resolve_name(
    name: str, *, inventory: _Inventory, context: str, asked: str, reason: str, fix: str
) -> ClusterLocation:
    """Resolve a ``cluster_key`` / ``cluster_path`` value (path form or bare name)."""
    split = _split_cluster_path(name)
    kind: ClusterKind | None = split[0] if split else None
    key = split[1] if split else name

    job_matches = [c for c in inventory.clusters if c.kind == "job_cluster" and c.key == key]
    task_matches = [c for c in inventory.clusters if c.kind == "task" and key in c.names]
    if kind == "job_cluster":
        task_matches = []
    elif kind == "task":
        job_matches = []

    if job_matches and task_matches:
        raise AmbiguousClusterError(
            f"{context}: {asked} matches both the job cluster {key!r} and the cluster of task "
            f"{task_matches[0].key!r}. Use the path form: cluster_key="
            f"{JOB_CLUSTERS_PREFIX + key!r} or cluster_key={TASKS_PREFIX + task_matches[0].key!r}."
        )
    if job_matches or task_matches:
        return _location((job_matches or task_matches)[0], reason)

    if kind != "job_cluster":
        for task in inventory.tasks:
            if key in task.names:
                raise _task_without_cluster_error(
                    task, context=context, asked=asked, inventory=inventory
                )
    raise ClusterNotFoundError(
        f"{context}: {asked} is not a cluster of the job; {inventory.listing()}. {fix}"
    )


def locate_cluster(
    settings: Mapping[str, Any],
    *,
    job_id: int | str,
    project_id: str,
    cluster_path: str | None = None,
    cluster_key: str | None = None,
) -> ClusterLocation:
    """Find the cluster of a job that a Gradient project tunes.

    Order: an explicit ``cluster_key`` (a job cluster key, the task key of a task with its own
    ``new_cluster``, or the path forms ``job_clusters/<k>`` / ``tasks/<k>``); else the one cluster
    tagged ``custom_tags["sync:project-id"] == project_id``; else the project's ``cluster_path``;
    else the job's only cluster (job-level or task-level, ``for_each_task`` included). Empty
    strings count as "not given".

    :param settings: the ``settings`` object of ``jobs/get``, all pages merged.
    :param job_id: the Databricks job id (for messages).
    :param project_id: the Gradient project id.
    :param cluster_path: the project's ``cluster_path`` as Gradient reports it.
    :param cluster_key: the operator's explicit choice.
    :raises ClusterNotFoundError: an explicit key or ``cluster_path`` names no cluster of the job.
    :raises AmbiguousClusterError: several clusters qualify and nothing says which.
    :raises UnsupportedClusterError: the target runs on an all-purpose cluster or serverless.
    """
    inventory = _inventory(settings)
    context = f"Databricks job {job_id} (Gradient project {project_id})"

    if cluster_key:
        return _resolve_name(
            cluster_key,
            inventory=inventory,
            context=context,
            asked=f"cluster_key={cluster_key!r}",
            reason="cluster_key argument",
            fix="Pass one of these as cluster_key=.",
        )

    tagged = [
        c
        for c in inventory.clusters
        if isinstance(c.spec.get("custom_tags"), Mapping)
        and c.spec["custom_tags"].get(PROJECT_ID_TAG) == project_id
    ]
    if len(tagged) > 1:
        raise AmbiguousClusterError(
            f"{context}: clusters {', '.join(c.path for c in tagged)} all carry the tag "
            f"{PROJECT_ID_TAG}={project_id}. Remove the tag from all but one, or pass "
            "cluster_key= to choose."
        )
    if tagged:
        return _location(tagged[0], f"tagged {PROJECT_ID_TAG}")

    if cluster_path:
        if _split_cluster_path(cluster_path) is None:
            raise ClusterNotFoundError(
                f"{context}: the project's cluster_path {cluster_path!r} is not of the form "
                f"'job_clusters/<job_cluster_key>' or 'tasks/<task_key>'. Fix the project's "
                "cluster_path in Gradient, or pass cluster_key=."
            )
        return _resolve_name(
            cluster_path,
            inventory=inventory,
            context=context,
            asked=f"the project's cluster_path {cluster_path!r}",
            reason="project cluster_path",
            fix="Fix the project's cluster_path in Gradient, or pass cluster_key=.",
        )

    if len(inventory.clusters) == 1:
        return _location(inventory.clusters[0], "the job's only cluster")
    if len(inventory.clusters) > 1:
        raise AmbiguousClusterError(
            f"{context}: the job has {len(inventory.clusters)} clusters "
            f"({', '.join(c.path for c in inventory.clusters)}) and nothing says which one the "
            "project tunes. Pass cluster_key= (e.g. "
            f"cluster_key={inventory.clusters[0].path!r}), set the project's cluster_path in "
            f'Gradient, or tag the cluster with custom_tags["{PROJECT_ID_TAG}"] = '
            f"{project_id!r}."
        )
    if inventory.tasks:
        reasons = "; ".join(task.describe() for task in inventory.tasks)
        raise UnsupportedClusterError(
            f"{context}: the job has no cluster Gradient can tune: {reasons}. Gradient tunes job "
            "clusters: move the task to a job cluster (all-purpose clusters are not tuned, and "
            "serverless compute has no cluster to tune)."
        )
    raise ClusterNotFoundError(
        f"{context}: the job has no tasks and no clusters. Check the job id."
    )


# --- merging a recommendation --------------------------------------------------------------


def _merge_into(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged = copy.deepcopy(dict(current))
            _merge_into(merged, value)
            target[key] = merged
        else:
            target[key] = copy.deepcopy(value)


def merge_recommendation(
    spec: Mapping[str, Any],
    configuration: Mapping[str, Any],
    *,
    recommendation_id: str | None = None,
) -> dict[str, Any]:
    """The cluster spec that results from applying a recommendation's configuration to ``spec``.

    A deep copy of ``spec`` with: ``num_workers`` and ``autoscale`` removed when the configuration
    sets either (the recommendation picks the sizing form; Databricks rejects both); nested
    objects merged key by key, the configuration winning; scalars overwritten; lists replaced
    whole (never concatenated, so re-applying does not duplicate ``init_scripts``); everything
    the configuration does not mention kept. ``cluster_log_conf`` is a one-of: when the
    configuration names a different destination kind (``dbfs``/``s3``/``volumes``) it replaces
    the old one instead of adding a second. With ``recommendation_id``, the result carries it
    as ``custom_tags["sync:recommendation-id"]`` (what says which recommendation is in force,
    even when Gradient's configuration omits the tag). Pure and idempotent.
    """
    merged = copy.deepcopy(dict(spec))
    if any(field in configuration for field in SIZING_FIELDS):
        for field in SIZING_FIELDS:
            merged.pop(field, None)
    old_log, new_log = merged.get("cluster_log_conf"), configuration.get("cluster_log_conf")
    if (
        isinstance(old_log, Mapping)
        and isinstance(new_log, Mapping)
        and set(old_log) & set(LOG_DESTINATIONS) != set(new_log) & set(LOG_DESTINATIONS)
    ):
        merged.pop("cluster_log_conf")
    _merge_into(merged, configuration)
    if recommendation_id is not None:
        tags = merged.get("custom_tags")
        merged["custom_tags"] = {**(tags if isinstance(tags, Mapping) else {})}
        merged["custom_tags"][RECOMMENDATION_ID_TAG] = recommendation_id
    return merged


def applied_recommendation_id(spec: Mapping[str, Any]) -> str | None:
    """The ``sync:recommendation-id`` tag of a cluster spec: the recommendation in force."""
    tags = spec.get("custom_tags")
    if isinstance(tags, Mapping):
        value = tags.get(RECOMMENDATION_ID_TAG)
        if isinstance(value, str) and value:
            return value
    return None


# --- validating a spec ------------------------------------------------------------------


def _roundtrip_problems(
    original: Any,
    roundtrip: Any,
    path: tuple[PathKey, ...],
    sdk: str,
    problems: list[tuple[tuple[PathKey, ...], str]],
) -> None:
    """Compare a spec with what ``ClusterSpec.from_dict(...).as_dict()`` made of it.

    Appends ``(path, message)`` for each field the SDK dropped or read differently.
    """
    if isinstance(original, Mapping) and isinstance(roundtrip, Mapping):
        for key, value in original.items():
            here = (*path, str(key))
            if value is None:
                continue
            if key not in roundtrip:
                problems.append(
                    (
                        here,
                        f"{format_path(here)}: dropped by databricks-sdk {sdk} ClusterSpec (an "
                        f"unknown field, or a value it does not accept): {_show(value)}",
                    )
                )
            else:
                _roundtrip_problems(value, roundtrip[key], here, sdk, problems)
        return
    if (
        isinstance(original, list)
        and isinstance(roundtrip, list)
        and len(original) == len(roundtrip)
    ):
        for index, (left, right) in enumerate(zip(original, roundtrip, strict=True)):
            _roundtrip_problems(left, right, (*path, index), sdk, problems)
        return
    if not _equal(original, roundtrip):
        problems.append(
            (
                path,
                f"{format_path(path)}: databricks-sdk {sdk} ClusterSpec reads "
                f"{_show(original)} as {_show(roundtrip)}",
            )
        )


_MISSING = object()


def _value_at(spec: Any, path: tuple[PathKey, ...]) -> Any:
    """The value at ``path`` in ``spec``, or ``_MISSING`` when the path does not exist."""
    here = spec
    for key in path:
        if isinstance(key, int):
            if not isinstance(here, list) or key >= len(here):
                return _MISSING
        elif not isinstance(here, Mapping) or key not in here:
            return _MISSING
        here = here[key]
    return here


def _count(value: Any) -> int | None:
    """``value`` if it is a worker count (an int >= 0, not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _sizing_problems(spec: Mapping[str, Any], problems: list[str]) -> None:
    has_fixed, has_auto = "num_workers" in spec, "autoscale" in spec
    if has_fixed and has_auto:
        problems.append("both num_workers and autoscale are set; Databricks accepts only one")
    elif not has_fixed and not has_auto:
        problems.append("neither num_workers nor autoscale is set; one of them is required")
    if has_fixed and _count(spec["num_workers"]) is None:
        problems.append(f"num_workers: must be an integer >= 0, got {_show(spec['num_workers'])}")
    if not has_auto:
        return
    autoscale = spec["autoscale"]
    if not isinstance(autoscale, Mapping):
        problems.append(f"autoscale: must be an object, got {_show(autoscale)}")
        return
    low, high = _count(autoscale.get("min_workers")), _count(autoscale.get("max_workers"))
    for field, count in (("min_workers", low), ("max_workers", high)):
        if count is None:
            problems.append(
                f"autoscale.{field}: must be an integer >= 0, got {_show(autoscale.get(field))}"
            )
    if low is not None and high is not None and low > high:
        problems.append(f"autoscale: min_workers {low} is greater than max_workers {high}")


def _shape_problems(spec: Mapping[str, Any], problems: list[str]) -> None:
    for field in ("spark_conf", "spark_env_vars", "custom_tags"):
        value = spec.get(field)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            problems.append(f"{field}: must be an object of strings, got {_show(value)}")
            continue
        for key, item in value.items():
            if not isinstance(item, str):
                problems.append(
                    f"{format_path([field, str(key)])}: must be a string, got {_show(item)}"
                )
    clouds = [field for field in CLOUD_ATTRIBUTE_FIELDS if spec.get(field)]
    if len(clouds) > 1:
        problems.append(
            f"{' and '.join(clouds)} are set together; a cluster runs on one cloud, so only one "
            "of them may be set (a recommendation for another cloud?)"
        )
    log_conf = spec.get("cluster_log_conf")
    if isinstance(log_conf, Mapping):
        destinations = [d for d in LOG_DESTINATIONS if log_conf.get(d) is not None]
        if len(destinations) > 1:
            problems.append(
                f"cluster_log_conf: has {len(destinations)} destinations "
                f"({', '.join(destinations)}); Databricks accepts one"
            )


def validate_cluster_spec(
    spec: Mapping[str, Any], *, where: str, existing: Mapping[str, Any] | None = None
) -> list[str]:
    """Check that Databricks would accept ``spec`` as a ``new_cluster``; raise listing all problems.

    Round-trips the spec through ``databricks.sdk.service.compute.ClusterSpec`` (generated from
    Databricks' API definition) and reports every field it drops or changes, then checks what
    the SDK does not: worker counts, exactly one sizing form, string maps, one cloud's
    attributes, one log destination.

    An installed databricks-sdk older than a field does not know it. A field the SDK drops but
    that ``existing`` (the job's cluster before the change) already held with the same value is
    Databricks' own: it is kept and reported as a warning, not refused. A dropped field the
    change added or altered is refused.

    :param spec: the merged cluster spec.
    :param where: what the spec is for, e.g. ``"job 123 cluster job_clusters/main"``.
    :param existing: the cluster spec the job holds now (None: every unknown field is refused).
    :return: one warning per kept field the SDK could not check (empty when there is none).
    :raises InvalidClusterSpecError: naming ``where`` and listing every problem.
    """
    from databricks.sdk.service.compute import ClusterSpec
    from databricks.sdk.version import __version__ as sdk_version

    problems: list[str] = []
    kept: list[str] = []
    if not isinstance(spec, Mapping):
        problems.append(f"the cluster spec must be an object, got {_show(spec)}")
    else:
        try:
            roundtrip = ClusterSpec.from_dict(dict(spec)).as_dict()
        except (AttributeError, TypeError, ValueError, KeyError) as error:
            problems.append(
                f"databricks-sdk {sdk_version} cannot read it as a ClusterSpec "
                f"({type(error).__name__}: {error}); a nested field has the wrong shape"
            )
        else:
            found: list[tuple[tuple[PathKey, ...], str]] = []
            _roundtrip_problems(spec, roundtrip, (), sdk_version, found)
            for path, message in found:
                before = _MISSING if existing is None else _value_at(existing, path)
                if before is not _MISSING and _equal(before, _value_at(spec, path)):
                    kept.append(
                        f"{format_path(path)}: kept as the job has it; databricks-sdk "
                        f"{sdk_version} does not know it, so it was not checked (a newer "
                        "databricks-sdk can check it)"
                    )
                else:
                    problems.append(message)
        _sizing_problems(spec, problems)
        _shape_problems(spec, problems)
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise InvalidClusterSpecError(
            f"The cluster spec for {where} would be rejected by Databricks "
            f"({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n{listing}\n"
            "Nothing should be written: fix the job's cluster or request a new recommendation."
        )
    for warning in kept:
        log.warning("Cluster spec for %s: %s", where, warning)
    return kept


# --- what changed ---------------------------------------------------------------------


def _diff_into(
    changes: list[tuple[tuple[str, ...], Any, Any]],
    prefix: tuple[str, ...],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> None:
    for key in set(before) | set(after):
        old, new = before.get(key), after.get(key)
        here = (*prefix, str(key))
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            _diff_into(changes, here, old, new)
        elif not _equal(old, new):
            changes.append((here, copy.deepcopy(old), copy.deepcopy(new)))


def diff_cluster(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every field that differs between two cluster specs, as ``{"path", "before", "after"}``.

    Sorted by path (key by key). Objects present on both sides are compared key by key; an
    object that appears or disappears is one change holding the whole object (so a switch from
    ``autoscale`` to ``num_workers`` is two changes: ``autoscale`` and ``num_workers``); lists
    are compared whole; a missing side is ``None``. Paths use the notation of :func:`format_path`.
    """
    changes: list[tuple[tuple[str, ...], Any, Any]] = []
    _diff_into(changes, (), before, after)
    changes.sort(key=lambda change: change[0])
    return [{"path": format_path(keys), "before": old, "after": new} for keys, old, new in changes]


def reverted_fields(
    spec: Mapping[str, Any], configuration: Mapping[str, Any], recommendation_id: str
) -> list[dict[str, Any]]:
    """Where ``spec`` no longer holds what recommendation ``recommendation_id`` set.

    Meant for a cluster tagged with that recommendation: re-merging its configuration must
    change nothing; each field it would change (``before`` = now, ``after`` = as recommended)
    was reverted by something else (Terraform, Asset Bundles, a job reset, a manual edit).
    """
    restored = merge_recommendation(spec, configuration, recommendation_id=recommendation_id)
    return diff_cluster(spec, restored)


def read_back_differences(
    written: Mapping[str, Any], found: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """What ``found`` (the job's cluster, read back) lacks of ``written`` (the spec sent).

    Fields only ``found`` has are defaults Databricks may add and do not count; a written value
    that is missing or different does, and so does any difference in sizing (``num_workers``,
    ``autoscale``), where an extra field would mean a second sizing form.
    """
    return [
        change
        for change in diff_cluster(written, found)
        if change["before"] is not None or change["path"] in SIZING_FIELDS
    ]


_ABSENT = "(absent)"
_MAX_COLUMN = 48


def format_diff(changes: Sequence[Mapping[str, Any]]) -> str:
    """A fixed-width ``path | before | after`` table of :func:`diff_cluster` output.

    Values are rendered as JSON; a missing side shows as ``(absent)``. Columns are padded to the
    widest cell (at most 48 characters; longer cells overflow rather than being cut).
    """
    if not changes:
        return "no changes"
    rows = [
        (
            str(change.get("path", "")),
            _ABSENT if change.get("before") is None else _show(change.get("before")),
            _ABSENT if change.get("after") is None else _show(change.get("after")),
        )
        for change in changes
    ]
    header = ("path", "before", "after")
    widths = [
        min(_MAX_COLUMN, max(len(row[column]) for row in [header, *rows])) for column in (0, 1, 2)
    ]

    def line(row: tuple[str, str, str]) -> str:
        return f"{row[0].ljust(widths[0])} | {row[1].ljust(widths[1])} | {row[2]}".rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


# --- what to send to jobs/update -----------------------------------------------------------


def _find(entries: list[Mapping[str, Any]], field: str, key: str) -> Mapping[str, Any] | None:
    for entry in entries:
        if entry.get(field) == key:
            return entry
    return None


def update_settings_for(
    settings: Mapping[str, Any], location: ClusterLocation, new_spec: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``new_settings`` for ``jobs/update`` that put ``new_spec`` at ``location``, nothing else.

    ``jobs/update`` merges ``job_clusters`` and ``tasks`` by key and replaces a matching entry
    whole, so: a job cluster is sent as its whole entry ``{"job_cluster_key", "new_cluster"}``; a
    task-level cluster as the **entire task object** from ``settings`` with only its
    ``new_cluster`` (or its ``for_each_task.task.new_cluster``) replaced. Sending just
    ``{task_key, new_cluster}`` would wipe the task's notebook, libraries and dependencies. No
    other top-level field is ever included.

    :raises ClusterNotFoundError: the entry is not (or no longer) in ``settings``.
    """
    spec = copy.deepcopy(dict(new_spec))
    if location.kind == "job_cluster":
        entry = _find(_entries(settings, "job_clusters"), "job_cluster_key", location.key)
        if entry is None:
            raise ClusterNotFoundError(
                f"Cannot build the job update: the job has no job cluster {location.key!r} "
                f"({location.path}). Read the job again and locate the cluster anew."
            )
        new_entry = copy.deepcopy(dict(entry))
        new_entry["new_cluster"] = spec
        return {"job_clusters": [new_entry]}

    task = _find(_entries(settings, "tasks"), "task_key", location.key)
    if task is None:
        raise ClusterNotFoundError(
            f"Cannot build the job update: the job has no task {location.key!r} "
            f"({location.path}). Read the job again and locate the cluster anew."
        )
    new_task = copy.deepcopy(dict(task))
    if isinstance(new_task.get("new_cluster"), Mapping):
        new_task["new_cluster"] = spec
        return {"tasks": [new_task]}
    nested = _nested_task(new_task)
    if nested is not None and isinstance(nested.get("new_cluster"), Mapping):
        new_task["for_each_task"]["task"]["new_cluster"] = spec
        return {"tasks": [new_task]}
    raise ClusterNotFoundError(
        f"Cannot build the job update: task {location.key!r} ({location.path}) has no "
        "new_cluster of its own. Read the job again and locate the cluster anew."
    )


def cluster_spec_at(settings: Mapping[str, Any], path: str) -> dict[str, Any] | None:
    """A copy of the cluster spec at ``job_clusters/<k>`` or ``tasks/<k>``, or None if none is.

    For a ``for_each_task`` without a cluster of its own, ``tasks/<k>`` is the nested task's
    cluster. A path in neither form also gives None. Used to read the job back after an update.
    """
    split = _split_cluster_path(path)
    if split is None:
        return None
    kind, key = split
    if kind == "job_cluster":
        entry = _find(_entries(settings, "job_clusters"), "job_cluster_key", key)
        holder = entry
    else:
        task = _find(_entries(settings, "tasks"), "task_key", key)
        holder = task
        if task is not None and not isinstance(task.get("new_cluster"), Mapping):
            holder = _nested_task(task)
    if holder is None:
        return None
    spec = holder.get("new_cluster")
    return copy.deepcopy(dict(spec)) if isinstance(spec, Mapping) else None
