"""The effective job of a bundle target, computed the way the ``databricks`` CLI does for the
fields Gradient touches: our own model, so the tests can prove what a deploy would write
without the CLI (a Go binary that cannot be installed here).

CLI behaviours relied on (docs/bundles.md lists their sources):

* a resource is defined in exactly one file; ``targets.<t>.resources`` overrides from every file
  are merged onto it in load order (root file first, then the includes);
* merging: maps merge key by key, the override winning; a null never deletes a value (merging
  with null keeps it); sequences are concatenated; a map or sequence cannot be merged with a
  value of another kind (a map onto a ``${var.x}`` string fails), nor a scalar with a scalar of
  another kind (the model refuses these instead of guessing);
* then ``job_clusters`` entries with the same ``job_cluster_key`` (and ``tasks`` with the same
  ``task_key``) are merged into the first one, in order: the later (the target) wins;
* then ``${var.<name>}`` references are resolved: a string that is exactly one reference takes
  the variable's value (a complex variable: the whole map), a reference inside a longer string
  is replaced by the text of the value. A variable's value for a target is the target's
  ``variables.<name>`` (replacing a complex value whole), else its ``default``. ``--var``,
  ``BUNDLE_VAR_*`` and ``.databricks/bundle/<t>/variable-overrides.json`` are left out on
  purpose: they do not reach CI, which is what deploys.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_gradient.core.bundles.documents import GENERATED_FILE, Bundle, BundleFile
from airflow_gradient.core.cluster.paths import ClusterKind, format_path
from airflow_gradient.core.errors import BundleInputError

__all__ = [
    "Layer",
    "cli_merge",
    "cluster_layers",
    "defining_file",
    "effective_job",
    "job_keys",
    "target_names",
    "variable_references",
    "variable_source",
    "whole_reference",
]

DEFAULT_TARGET = "default"
"""The target the CLI makes up when a bundle declares none."""

_REFERENCE = re.compile(r"\$\{var\.([A-Za-z0-9_-]+)\}")
_WHOLE_REFERENCE = re.compile(r"\$\{var\.([A-Za-z0-9_-]+)\}\Z")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, list):
        return "sequence"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "string"


def cli_merge(base: Any, override: Any, *, where: str = "") -> Any:
    """``override`` merged onto ``base`` the way the CLI merges configuration trees.

    :raises BundleInputError: the two values are of kinds the CLI cannot merge.
    """
    if override is None:
        return copy.deepcopy(base)
    if base is None:
        return copy.deepcopy(override)
    base_kind, override_kind = _kind(base), _kind(override)
    if base_kind != override_kind:
        reference = " (a ${var...} reference)" if _REFERENCE.search(str(base)) else ""
        raise BundleInputError(
            f"{where or 'a value'}: cannot merge a {override_kind} onto a {base_kind}{reference}"
        )
    if base_kind == "map":
        merged = copy.deepcopy(dict(base))
        for key, value in override.items():
            merged[key] = cli_merge(base.get(key), value, where=f"{where}.{key}".lstrip("."))
        return merged
    if base_kind == "sequence":
        return copy.deepcopy(list(base)) + copy.deepcopy(list(override))
    return copy.deepcopy(override)


def _merge_by_key(entries: Any, field: str, where: str) -> Any:
    """Entries sharing ``field`` merged into the first of them, in order (later wins)."""
    if not isinstance(entries, list):
        return entries
    merged: list[Any] = []
    index: dict[str, int] = {}
    for entry in entries:
        key = entry.get(field) if isinstance(entry, Mapping) else None
        if not isinstance(key, str) or key not in index:
            if isinstance(key, str):
                index[key] = len(merged)
            merged.append(copy.deepcopy(entry))
            continue
        merged[index[key]] = cli_merge(merged[index[key]], entry, where=f"{where}[{key}]")
    return merged


def target_names(bundle: Bundle) -> list[str]:
    """The targets the bundle declares, in order (``["default"]`` when it declares none)."""
    names: list[str] = []
    for file in bundle.files:
        targets = file.data.get("targets")
        if isinstance(targets, Mapping):
            names += [name for name in targets if name not in names]
    return names or [DEFAULT_TARGET]


def _check_target(bundle: Bundle, target: str) -> None:
    known = target_names(bundle)
    if target not in known:
        raise BundleInputError(
            f"the bundle has no target {target!r}; its targets are {', '.join(known)}"
        )


def _jobs_of(data: Mapping[str, Any]) -> Mapping[str, Any]:
    resources = data.get("resources")
    jobs = resources.get("jobs") if isinstance(resources, Mapping) else None
    return jobs if isinstance(jobs, Mapping) else {}


def job_keys(bundle: Bundle) -> list[str]:
    """The keys of every job the bundle defines (``resources.jobs.<key>``), in load order."""
    keys: list[str] = []
    for file in bundle.files:
        if file.path != GENERATED_FILE:
            keys += [key for key in _jobs_of(file.data) if key not in keys]
    return keys


def defining_file(bundle: Bundle, job_key: str) -> BundleFile:
    """The one file that defines ``resources.jobs.<job_key>``.

    :raises BundleInputError: no file defines it, or several do (the CLI refuses that too).
    """
    holders = [f for f in bundle.files if job_key in _jobs_of(f.data)]
    if not holders:
        known = ", ".join(job_keys(bundle)) or "none"
        raise BundleInputError(
            f"no file of the bundle defines the job {job_key!r} (resources.jobs.{job_key}); "
            f"the jobs it defines: {known}"
        )
    if len(holders) > 1:
        raise BundleInputError(
            f"the job {job_key!r} is defined in several files "
            f"({', '.join(f.path for f in holders)}); a resource is defined in one file only"
        )
    return holders[0]


def _target_override(data: Mapping[str, Any], target: str, job_key: str) -> Any:
    targets = data.get("targets")
    body = targets.get(target) if isinstance(targets, Mapping) else None
    return _jobs_of(body).get(job_key) if isinstance(body, Mapping) else None


def _variables(bundle: Bundle, target: str) -> dict[str, tuple[bool, Any]]:
    """Each declared variable → (has a value for ``target``, the value)."""
    declared: dict[str, Mapping[str, Any]] = {}
    for file in bundle.files:
        variables = file.data.get("variables")
        if isinstance(variables, Mapping):
            for name, spec in variables.items():
                declared[name] = spec if isinstance(spec, Mapping) else {"default": spec}
    values: dict[str, tuple[bool, Any]] = {
        name: ("default" in spec, spec.get("default")) for name, spec in declared.items()
    }
    for file in bundle.files:
        targets = file.data.get("targets")
        body = targets.get(target) if isinstance(targets, Mapping) else None
        overrides = body.get("variables") if isinstance(body, Mapping) else None
        if not isinstance(overrides, Mapping):
            continue
        for name, value in overrides.items():
            complex_type = declared.get(name, {}).get("type") == "complex"
            if isinstance(value, Mapping) and "lookup" in value and len(value) == 1:
                values[name] = (False, None)
            elif (
                isinstance(value, Mapping)
                and "default" in value
                and (set(value) == {"default"} or not complex_type)
            ):
                values[name] = (True, value["default"])
            else:
                values[name] = (True, value)
    return values


def _resolve(value: Any, variables: Mapping[str, tuple[bool, Any]], depth: int = 0) -> Any:
    if depth > 10:
        raise BundleInputError("variables refer to each other in a cycle")
    if isinstance(value, Mapping):
        return {k: _resolve(v, variables, depth) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, variables, depth) for v in value]
    if not isinstance(value, str) or "${var." not in value:
        return value
    for name in _REFERENCE.findall(value):
        if name not in variables:
            raise BundleInputError(
                f"${{var.{name}}} refers to a variable the bundle does not declare"
            )
    whole = _WHOLE_REFERENCE.match(value)
    if whole:
        known, resolved = variables[whole.group(1)]
        return _resolve(resolved, variables, depth + 1) if known else value

    def text(match: re.Match[str]) -> str:
        known, resolved = variables[match.group(1)]
        return str(_resolve(resolved, variables, depth + 1)) if known else match.group(0)

    return _REFERENCE.sub(text, value)


def effective_job(
    bundle: Bundle, target: str, job_key: str, *, without: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The job ``job_key`` as a deploy of ``target`` writes it (the fields listed above).

    :param without: paths of files whose ``targets:`` overrides are left out (the definition
        is never left out).
    :raises BundleInputError: unknown target or job, a merge the CLI would refuse, an
        undeclared variable.
    """
    _check_target(bundle, target)
    home = defining_file(bundle, job_key)
    job = copy.deepcopy(_jobs_of(home.data)[job_key])
    if not isinstance(job, Mapping):
        raise BundleInputError(f"resources.jobs.{job_key} must be a mapping", path=home.path)
    where = f"targets.{target}.resources.jobs.{job_key}"
    for file in bundle.files:
        if file.path in without:
            continue
        override = _target_override(file.data, target, job_key)
        if override is not None:
            try:
                job = cli_merge(job, override, where=where)
            except BundleInputError as exc:
                raise BundleInputError(exc.problem, path=file.path) from None
    job = dict(job)
    job["job_clusters"] = _merge_by_key(job.get("job_clusters"), "job_cluster_key", where)
    job["tasks"] = _merge_by_key(job.get("tasks"), "task_key", where)
    for field in ("job_clusters", "tasks"):
        if job[field] is None:
            del job[field]
    resolved: dict[str, Any] = _resolve(job, _variables(bundle, target))
    return resolved


@dataclass(frozen=True)
class Layer:
    """One place a cluster of a job is written: a file, the keys to its ``new_cluster`` (from
    the file's top) and whether it is the definition (``False``: a target override)."""

    file: BundleFile
    keys: tuple[str | int, ...]
    definition: bool

    @property
    def where(self) -> str:
        return f"{self.file.path}: {format_path(list(self.keys))}"

    def node(self) -> Any:
        """The round-trip node at ``keys`` (the ``new_cluster`` value as written)."""
        value = self.file.document
        for key in self.keys:
            value = value[key]
        return value


def _entry_layers(
    file: BundleFile, prefix: tuple[str | int, ...], job: Any, kind: ClusterKind, key: str
) -> Iterator[tuple[str | int, ...]]:
    field, name = (
        ("job_clusters", "job_cluster_key")
        if kind == "job_cluster"
        else (
            "tasks",
            "task_key",
        )
    )
    entries = job.get(field) if isinstance(job, Mapping) else None
    if not isinstance(entries, list):
        return
    for index, entry in enumerate(entries):
        if isinstance(entry, Mapping) and entry.get(name) == key and "new_cluster" in entry:
            yield (*prefix, field, index, "new_cluster")


def cluster_layers(
    bundle: Bundle, target: str, job_key: str, kind: ClusterKind, key: str
) -> list[Layer]:
    """Every place the cluster ``kind``/``key`` of job ``job_key`` is written for ``target``,
    the definition first, then the target overrides in load order."""
    home = defining_file(bundle, job_key)
    layers = [
        Layer(home, keys, True)
        for keys in _entry_layers(
            home, ("resources", "jobs", job_key), _jobs_of(home.data)[job_key], kind, key
        )
    ]
    for file in bundle.files:
        override = _target_override(file.data, target, job_key)
        prefix = ("targets", target, "resources", "jobs", job_key)
        layers += [
            Layer(file, keys, False) for keys in _entry_layers(file, prefix, override, kind, key)
        ]
    return layers


def variable_references(value: Any) -> list[str]:
    """The variable names ``value`` refers to (``${var.<name>}``), in order, once each."""
    names: list[str] = []
    if isinstance(value, Mapping):
        for item in value.values():
            names += [n for n in variable_references(item) if n not in names]
    elif isinstance(value, list):
        for item in value:
            names += [n for n in variable_references(item) if n not in names]
    elif isinstance(value, str):
        names += [n for n in _REFERENCE.findall(value) if n not in names]
    return names


def whole_reference(value: Any) -> str | None:
    """The variable name when ``value`` is exactly one ``${var.<name>}`` reference."""
    match = _WHOLE_REFERENCE.match(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def variable_source(bundle: Bundle, target: str, name: str) -> tuple[BundleFile, tuple[str, ...]]:
    """Where the value of variable ``name`` for ``target`` is written: the target's
    ``variables.<name>`` (its ``default`` when given that way) or the declaration's ``default``.

    :raises BundleInputError: the variable has no value written in the bundle for ``target``.
    """
    found: tuple[BundleFile, tuple[str, ...]] | None = None
    for file in bundle.files:
        if file.path == GENERATED_FILE:
            continue
        spec = file.data.get("variables", {})
        declared = spec.get(name) if isinstance(spec, Mapping) else None
        if isinstance(declared, Mapping) and "default" in declared:
            found = found or (file, ("variables", name, "default"))
    for file in bundle.files:
        targets = file.data.get("targets")
        body = targets.get(target) if isinstance(targets, Mapping) else None
        values = body.get("variables") if isinstance(body, Mapping) else None
        if isinstance(values, Mapping) and name in values:
            value = values[name]
            if isinstance(value, Mapping) and set(value) == {"default"}:
                found = (file, ("targets", target, "variables", name, "default"))
            else:
                found = (file, ("targets", target, "variables", name))
    if found is None:
        raise BundleInputError(
            f"variable {name!r} has no value in the bundle for target {target!r}"
        )
    return found
