"""Whether Databricks would accept a cluster spec: databricks-sdk's ``ClusterSpec`` plus the
checks it does not make."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_gradient.core.cluster.paths import PathKey, format_path
from airflow_gradient.core.errors import InvalidClusterSpecError
from airflow_gradient.core.json_values import json_equal, show

__all__ = ["validate_cluster_spec"]

SIZING_FIELDS = ("num_workers", "autoscale")
"""The two mutually exclusive ways to size a cluster."""

CLOUD_ATTRIBUTE_FIELDS = ("aws_attributes", "azure_attributes", "gcp_attributes")
"""The per-cloud attribute blocks; a cluster has at most one."""

LOG_DESTINATIONS = ("dbfs", "s3", "volumes")
"""The destination kinds of ``cluster_log_conf``; it holds one."""


Finding = tuple[tuple[PathKey, ...], str]


def _roundtrip_problems(
    original: Any, roundtrip: Any, path: tuple[PathKey, ...], sdk: str, problems: list[Finding]
) -> None:
    """Compare a spec with what ``ClusterSpec.from_dict(...).as_dict()`` made of it; append
    ``(path, message)`` for each field the SDK dropped or read differently."""
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
                        f"unknown field, or a value it does not accept): {show(value)}",
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
    if not json_equal(original, roundtrip):
        problems.append(
            (
                path,
                f"{format_path(path)}: databricks-sdk {sdk} ClusterSpec reads {show(original)} "
                f"as {show(roundtrip)}",
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
        problems.append(f"num_workers: must be an integer >= 0, got {show(spec['num_workers'])}")
    if not has_auto:
        return
    autoscale = spec["autoscale"]
    if not isinstance(autoscale, Mapping):
        problems.append(f"autoscale: must be an object, got {show(autoscale)}")
        return
    low, high = _count(autoscale.get("min_workers")), _count(autoscale.get("max_workers"))
    for field, count in (("min_workers", low), ("max_workers", high)):
        if count is None:
            problems.append(
                f"autoscale.{field}: must be an integer >= 0, got {show(autoscale.get(field))}"
            )
    if low is not None and high is not None and low > high:
        problems.append(f"autoscale: min_workers {low} is greater than max_workers {high}")


def _shape_problems(spec: Mapping[str, Any], problems: list[str]) -> None:
    for field in ("spark_conf", "spark_env_vars", "custom_tags"):
        value = spec.get(field)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            problems.append(f"{field}: must be an object of strings, got {show(value)}")
            continue
        for key, item in value.items():
            if not isinstance(item, str):
                problems.append(
                    f"{format_path([field, str(key)])}: must be a string, got {show(item)}"
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
    Databricks' own: it is kept and returned as a warning, not refused. A dropped field the
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
        problems.append(f"the cluster spec must be an object, got {show(spec)}")
    else:
        try:
            roundtrip = ClusterSpec.from_dict(dict(spec)).as_dict()
        except (AttributeError, TypeError, ValueError, KeyError) as error:
            problems.append(
                f"databricks-sdk {sdk_version} cannot read it as a ClusterSpec "
                f"({type(error).__name__}: {error}); a nested field has the wrong shape"
            )
        else:
            found: list[Finding] = []
            _roundtrip_problems(spec, roundtrip, (), sdk_version, found)
            for path, message in found:
                before = _MISSING if existing is None else _value_at(existing, path)
                if before is not _MISSING and json_equal(before, _value_at(spec, path)):
                    kept.append(
                        f"{where}: {format_path(path)}: kept as the job has it; databricks-sdk "
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
    return kept
