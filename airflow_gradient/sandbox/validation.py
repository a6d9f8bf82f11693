"""Validate Databricks request bodies the way the Jobs API does.

The shapes come from ``databricks-sdk``: its dataclasses and API method signatures are
generated from Databricks' own API spec, so walking their type hints gives the same field
names, nesting and enum values the service accepts. Unknown fields (the ones
``JobSettings.from_dict(...).as_dict()`` would silently drop), wrong types and bad enum
values are rejected with the JSON path of the offending value; then the rules the service
enforces beyond shapes (one cluster size mode, unique keys, valid references) are checked.

``databricks-sdk`` takes about two seconds to import, so it is imported on first use only.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

from airflow_gradient.sandbox.errors import ValidationError

MAX_WEBHOOKS_PER_EVENT = 3
MAX_JOB_TAGS = 25


def _is_optional(hint: Any) -> tuple[bool, Any]:
    if typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return True, args[0]
    return False, hint


@functools.cache
def _fields_of(cls: type) -> dict[str, tuple[Any, bool]]:
    """Field name -> (type hint, required) of an SDK dataclass."""
    hints = typing.get_type_hints(cls)
    out: dict[str, tuple[Any, bool]] = {}
    for f in dataclasses.fields(cls):
        optional, inner = _is_optional(hints[f.name])
        out[f.name] = (inner, not optional)
    return out


@functools.cache
def _params_of(func: Callable[..., Any]) -> dict[str, tuple[Any, bool]]:
    """Parameter name -> (type hint, required) of an SDK API method (a request body)."""
    hints = typing.get_type_hints(func)
    signature = inspect.signature(func)
    out: dict[str, tuple[Any, bool]] = {}
    for name, param in signature.parameters.items():
        if name == "self":
            continue
        optional, inner = _is_optional(hints[name])
        out[name] = (inner, param.default is inspect.Parameter.empty and not optional)
    return out


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _check_object(value: Any, fields: dict[str, tuple[Any, bool]], path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(
            f"Invalid value for {path or 'request'}: expected an object, got {_describe(value)}"
        )
    out: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            raise ValidationError(f"Unknown field '{where}'")
        hint, _required = fields[key]
        if item is None:
            continue
        out[key] = _check(item, hint, where)
    for key, (_hint, required) in fields.items():
        if required and value.get(key) is None:
            where = f"{path}.{key}" if path else key
            raise ValidationError(f"Missing required field: {where}")
    return out


def _check(value: Any, hint: Any, path: str) -> Any:
    """Return ``value`` normalised or raise.

    Numbers sent as strings are accepted and become numbers, as the service does (the Airflow
    Databricks operators send every number as a string).
    """
    _optional, hint = _is_optional(hint)
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin is list:
        if not isinstance(value, list):
            raise ValidationError(
                f"Invalid value for {path}: expected an array, got {_describe(value)}"
            )
        (item_hint,) = typing.get_args(hint) or (Any,)
        return [_check(item, item_hint, f"{path}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ValidationError(
                f"Invalid value for {path}: expected an object, got {_describe(value)}"
            )
        args = typing.get_args(hint)
        value_hint = args[1] if len(args) == 2 else Any
        return {str(k): _check(v, value_hint, f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _check_object(value, _fields_of(hint), path)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        allowed = [m.value for m in hint]
        if value not in allowed:
            raise ValidationError(
                f"Invalid value for {path}: {value!r} is not one of {', '.join(map(str, allowed))}"
            )
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ValidationError(
                f"Invalid value for {path}: expected a boolean, got {_describe(value)}"
            )
        return value
    if hint is int:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValidationError(
                f"Invalid value for {path}: expected an integer, got {_describe(value)}"
            )
        return value
    if hint is float:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError(
                f"Invalid value for {path}: expected a number, got {_describe(value)}"
            )
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ValidationError(
                f"Invalid value for {path}: expected a string, got {_describe(value)}"
            )
        return value
    return value  # Any, bare dict/list or something free-form: accept as is.


# --- request bodies --------------------------------------------------------------------------


def _jobs_api() -> Any:
    from databricks.sdk.service import jobs

    return jobs


def check_body(method_name: str, body: Any) -> dict[str, Any]:
    """Check a Jobs API request body against the SDK's ``JobsAPI.<method_name>`` signature."""
    jobs = _jobs_api()
    fields = _params_of(getattr(jobs.JobsAPI, method_name))
    return _check_object(body, fields, "")


def check_settings(settings: Any, path: str = "new_settings") -> dict[str, Any]:
    """Check a whole ``JobSettings`` object (shape and rules); return it normalised."""
    jobs = _jobs_api()
    normalised = _check_object(settings, _fields_of(jobs.JobSettings), path)
    try:
        jobs.JobSettings.from_dict(normalised).as_dict()
    except Exception as exc:  # the generated code raises on shapes it cannot read
        raise ValidationError(f"Invalid job settings: {exc}") from exc
    check_rules(normalised)
    return normalised


def check_create_body(body: Any) -> tuple[dict[str, Any], list[Any]]:
    """Check a ``jobs/create`` body; return ``(settings, access_control_list)``."""
    checked = check_body("create", body)
    acl = checked.pop("access_control_list", [])
    return check_settings(checked, path=""), acl


def check_submit_body(body: Any) -> dict[str, Any]:
    """Check a ``jobs/runs/submit`` body; a legacy single-task body becomes one task."""
    jobs = _jobs_api()
    if isinstance(body, dict) and "tasks" not in body:
        task_fields = _fields_of(jobs.SubmitTask)
        task = {k: v for k, v in body.items() if k in task_fields and k != "task_key"}
        if task:
            rest = {k: v for k, v in body.items() if k not in task}
            task["task_key"] = str(body.get("run_name") or "task")
            body = {**rest, "tasks": [task]}
    checked = check_body("submit", body)
    check_rules({"tasks": checked.get("tasks", []), "job_clusters": []})
    return checked


# --- rules beyond shapes --------------------------------------------------------------------


def check_cluster_spec(spec: dict[str, Any], where: str) -> None:
    """A cluster spec has a fixed size or autoscaling, never both, with min <= max."""
    if "num_workers" in spec and "autoscale" in spec:
        raise ValidationError(
            f"Cluster {where} sets both num_workers and autoscale: set exactly one of them"
        )
    autoscale = spec.get("autoscale")
    if isinstance(autoscale, dict):
        low, high = autoscale.get("min_workers"), autoscale.get("max_workers")
        if low is None or high is None:
            raise ValidationError(
                f"Cluster {where}: autoscale needs both min_workers and max_workers"
            )
        if low < 0 or high < 1:
            raise ValidationError(f"Cluster {where}: autoscale workers must be positive")
        if low > high:
            raise ValidationError(
                f"Cluster {where}: autoscale.min_workers ({low}) is greater than "
                f"autoscale.max_workers ({high})"
            )
    workers = spec.get("num_workers")
    if workers is not None and workers < 0:
        raise ValidationError(f"Cluster {where}: num_workers must not be negative")


def _check_webhooks(notifications: Any, where: str) -> None:
    if not isinstance(notifications, dict):
        return
    for event, destinations in notifications.items():
        if isinstance(destinations, list) and len(destinations) > MAX_WEBHOOKS_PER_EVENT:
            raise ValidationError(
                f"{where}.{event} has {len(destinations)} destinations; "
                f"at most {MAX_WEBHOOKS_PER_EVENT} are allowed per event"
            )


def _check_task(task: dict[str, Any], where: str, cluster_keys: set[str]) -> None:
    compute = [k for k in ("job_cluster_key", "new_cluster", "existing_cluster_id") if k in task]
    if len(compute) > 1:
        raise ValidationError(
            f"Task {task.get('task_key')!r} sets {' and '.join(compute)}: "
            "a task runs on one of job_cluster_key, new_cluster or existing_cluster_id"
        )
    key = task.get("job_cluster_key")
    if key is not None and key not in cluster_keys:
        raise ValidationError(
            f"Task {task.get('task_key')!r} references job_cluster_key {key!r}, "
            f"which is not defined in job_clusters (defined: {sorted(cluster_keys)})"
        )
    if "new_cluster" in task:
        check_cluster_spec(task["new_cluster"], f"{where}.new_cluster")
    _check_webhooks(task.get("webhook_notifications"), f"{where}.webhook_notifications")
    inner = (task.get("for_each_task") or {}).get("task")
    if isinstance(inner, dict):
        _check_task(inner, f"{where}.for_each_task.task", cluster_keys)


def check_unique_keys(settings: dict[str, Any]) -> None:
    """No two ``tasks`` (``job_clusters``) share a ``task_key`` (``job_cluster_key``).

    Checked on ``new_settings`` of ``jobs/update`` before the merge, where a duplicate would
    otherwise silently replace its twin.
    """
    for array, key_name in (("tasks", "task_key"), ("job_clusters", "job_cluster_key")):
        seen: set[str] = set()
        for entry in settings.get(array) or []:
            key = entry.get(key_name)
            if key in seen:
                raise ValidationError(f"Duplicate {key_name} {key!r} in {array}")
            seen.add(key)


def check_rules(settings: dict[str, Any]) -> None:
    """Rules Databricks enforces on a whole job, beyond the shape of each field."""
    cluster_keys: set[str] = set()
    for i, cluster in enumerate(settings.get("job_clusters") or []):
        key = cluster["job_cluster_key"]
        if key in cluster_keys:
            raise ValidationError(f"Duplicate job_cluster_key {key!r} in job_clusters")
        cluster_keys.add(key)
        if "new_cluster" in cluster:
            check_cluster_spec(cluster["new_cluster"], f"job_clusters[{i}] ({key!r})")
    task_keys: set[str] = set()
    tasks = settings.get("tasks") or []
    for task in tasks:
        key = task["task_key"]
        if key in task_keys:
            raise ValidationError(f"Duplicate task_key {key!r} in tasks")
        task_keys.add(key)
    for i, task in enumerate(tasks):
        _check_task(task, f"tasks[{i}] ({task['task_key']!r})", cluster_keys)
        for dependency in task.get("depends_on") or []:
            if dependency["task_key"] not in task_keys:
                raise ValidationError(
                    f"Task {task['task_key']!r} depends on {dependency['task_key']!r}, "
                    "which is not a task of this job"
                )
    _check_webhooks(settings.get("webhook_notifications"), "webhook_notifications")
    tags = settings.get("tags") or {}
    if len(tags) > MAX_JOB_TAGS:
        raise ValidationError(f"A job has at most {MAX_JOB_TAGS} tags, got {len(tags)}")


def check_notification_config(config: Any) -> tuple[str, dict[str, Any]]:
    """Check a notification destination ``config``; return ``(kind, inner config)``."""
    from databricks.sdk.service import settings as sdk_settings

    checked = _check_object(config, _fields_of(sdk_settings.Config), "config")
    if len(checked) != 1:
        raise ValidationError(
            "config must wrap exactly one of: " + ", ".join(sorted(_fields_of(sdk_settings.Config)))
        )
    ((kind, inner),) = checked.items()
    for key in inner:
        if key.endswith("_set"):
            raise ValidationError(f"config.{kind}.{key} is output only")
    return kind, inner
