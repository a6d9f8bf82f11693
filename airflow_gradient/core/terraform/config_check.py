"""Whether a ``.tf`` file's ``lifecycle.ignore_changes`` covers what Gradient manages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from airflow_gradient.core.cluster.locate import PROJECT_ID_TAG
from airflow_gradient.core.errors import TerraformInputError
from airflow_gradient.core.terraform.documents import document_kind, managed_resources
from airflow_gradient.core.terraform.ignore_changes import clouds_of
from airflow_gradient.core.terraform.managed import (
    CLUSTER_RESOURCE_TYPES,
    MANAGED_ATTRIBUTES,
    AttrPath,
    MapKey,
    render_path,
)
from airflow_gradient.core.terraform.plan_check import clusters_by_label

# --- The configuration check --------------------------------------------------------------


@dataclass(frozen=True)
class ConfigFinding:
    """One remark about a resource's ``lifecycle.ignore_changes``.

    ``kind``: ``missing`` (a managed path is not ignored), ``too_broad`` (an entry ignores more
    than Gradient manages), ``unmanaged`` (an entry unrelated to Gradient: information),
    ``note`` (something the check could not do: information).
    """

    address: str
    kind: Literal["missing", "too_broad", "unmanaged", "note"]
    subject: str
    message: str

    @property
    def is_problem(self) -> bool:
        """Whether this finding should fail the check."""
        return self.kind in ("missing", "too_broad")

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {
            "address": self.address,
            "kind": self.kind,
            "subject": self.subject,
            "message": self.message,
        }


def _hcl_plain(value: Any) -> Any:
    """python-hcl2 output with quotes stripped and ``__is_block__`` markers dropped."""
    if isinstance(value, Mapping):
        return {_hcl_plain(k): _hcl_plain(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_hcl_plain(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            text = json.loads(value)
        except ValueError:
            return value[1:-1]
        return text if isinstance(text, str) else value[1:-1]
    return value


def _parse_hcl(tf_text: str) -> dict[str, Any]:
    import hcl2  # lazy: only check-config needs it

    try:
        parsed = hcl2.loads(tf_text)
    except Exception as exc:
        line, column = getattr(exc, "line", None), getattr(exc, "column", None)
        token = getattr(exc, "token", None) or getattr(exc, "char", None)
        where = f" at line {line}, column {column}" if line is not None else ""
        what = f": unexpected {str(token)[:30]!r}" if token is not None else ""
        if not where and not what:
            what = ": " + (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise TerraformInputError(f"HCL syntax error{where}{what}") from exc
    plain = _hcl_plain(parsed)
    return plain if isinstance(plain, dict) else {}


_TRAVERSAL = re.compile(
    r'\s*(?:\.?([A-Za-z_][\w-]*)|\.(\d+)|\[\s*(\d+)\s*\]|\[\s*("(?:[^"\\]|\\.)*")\s*\])'
)


def _entry_steps(entry: str) -> tuple[str | int, ...] | None:
    """Steps of an ``ignore_changes`` entry (map keys as plain strings); ``None`` if unreadable."""
    text = entry.strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1].strip()
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _TRAVERSAL.match(text, pos)
        if match is None or match.end() == pos:
            return None
        name, legacy, index, key = match.groups()
        if name is not None:
            if pos > 0 and not text[match.start() : match.end()].lstrip().startswith("."):
                return None
            steps.append(name)
        elif legacy is not None or index is not None:
            steps.append(int(legacy or index))
        else:
            steps.append(str(json.loads(key)))
        pos = match.end()
    return tuple(steps) or None


def _plain_steps(path: AttrPath) -> tuple[str | int, ...]:
    return tuple(s.key if isinstance(s, MapKey) else s for s in path)


def _ignore_entries(body: Mapping[str, Any]) -> list[str]:
    entries: list[str] = []
    lifecycles = body.get("lifecycle")
    for lifecycle in lifecycles if isinstance(lifecycles, list) else [lifecycles]:
        if not isinstance(lifecycle, Mapping):
            continue
        value = lifecycle.get("ignore_changes")
        if isinstance(value, list):
            entries.extend(str(v) for v in value)
        elif value is not None:
            entries.append(str(value))
    return entries


def _hcl_resources(parsed: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    blocks = parsed.get("resource")
    for block in blocks if isinstance(blocks, list) else [blocks]:
        if not isinstance(block, Mapping):
            continue
        for rtype, named in block.items():
            if rtype in CLUSTER_RESOURCE_TYPES and isinstance(named, Mapping):
                for name, body in named.items():
                    if isinstance(body, Mapping):
                        yield str(rtype), str(name), body


def _state_resource(state: Mapping[str, Any] | None, address: str) -> Mapping[str, Any] | None:
    if state is None:
        return None
    resources = managed_resources(state)
    for resource in resources:
        if resource["address"] == address:
            return resource
    in_modules = [r for r in resources if str(r["address"]).endswith("." + address)]
    return in_modules[0] if len(in_modules) == 1 else None


def _has_dynamic(body: Mapping[str, Any]) -> bool:
    dynamics = body.get("dynamic")
    for dynamic in dynamics if isinstance(dynamics, list) else [dynamics]:
        if isinstance(dynamic, Mapping) and {"job_cluster", "task"} & set(dynamic):
            return True
    return False


Plain = tuple[str | int, ...]


@dataclass
class _Expected:
    """What one resource's ``ignore_changes`` should hold.

    ``required``: plain steps -> (rendered path, cluster label), the paths that must be ignored.
    ``known``: every managed path of the tagged clusters (also other-cloud fields and unset node
    types), so that such entries are not called unrelated.
    """

    required: dict[Plain, tuple[str, str]]
    known: set[Plain]


def _expected_paths(
    rtype: str, body: Mapping[str, Any], state_values: Any, address: str
) -> tuple[_Expected, list[ConfigFinding]]:
    """The managed paths of a ``.tf`` resource, indexed from the state or else the block order."""
    expected = _Expected({}, set())
    hcl_clusters = clusters_by_label(rtype, body)
    if state_values is not None:
        located = clusters_by_label(rtype, state_values)
    elif _has_dynamic(body):
        note = "uses dynamic job_cluster/task blocks; pass --state to resolve the cluster indexes"
        return expected, [ConfigFinding(address, "note", "dynamic", note)]
    else:
        located = hcl_clusters
    for label, cluster in located.items():
        in_hcl = hcl_clusters.get(label)
        if not (cluster.tagged or (in_hcl is not None and in_hcl.tagged)):
            continue
        hcl_spec = in_hcl.spec if in_hcl is not None else None
        clouds = clouds_of(hcl_spec, cluster.spec)
        for attribute in MANAGED_ATTRIBUTES:
            full = cluster.prefix + attribute.path
            expected.known.add(_plain_steps(full))
            if attribute.cloud is not None and attribute.cloud not in clouds:
                continue
            if (
                attribute.drifts_only_if_configured
                and hcl_spec is not None
                and attribute.path[0] not in hcl_spec
            ):
                continue
            expected.required[_plain_steps(full)] = (render_path(full), label)
    return expected, []


def _entry_finding(
    address: str, entry: str, expected: _Expected
) -> tuple[ConfigFinding | None, set[Plain]]:
    """Classify one ``ignore_changes`` entry; return the finding (if any) and what it covers."""
    shown = entry.strip()
    if shown.startswith("${") and shown.endswith("}"):
        shown = shown[2:-1].strip()
    steps = () if shown == "all" else _entry_steps(shown)
    if steps is None:
        return ConfigFinding(
            address, "note", shown, f"cannot read ignore_changes entry {shown}"
        ), set()
    covers = {p for p in expected.required if p[: len(steps)] == steps}
    below = [p for p in expected.known if len(p) > len(steps) and p[: len(steps)] == steps]
    if below:
        message = (
            f"{shown} ignores more than Gradient manages: it hides every change below it,"
            f" not just the {len(below)} managed path(s); list those paths instead"
        )
        return ConfigFinding(address, "too_broad", shown, message), covers
    related = any(steps[: len(p)] == p for p in expected.known)
    if not related:
        message = f"{shown} is not an attribute Gradient manages (left as it is)"
        return ConfigFinding(address, "unmanaged", shown, message), covers
    return None, covers


def config_findings(tf_text: str, state: Mapping[str, Any] | None = None) -> list[ConfigFinding]:
    """Return what each ``databricks_job`` / ``databricks_cluster`` in ``tf_text`` ignores wrongly.

    For every cluster tagged ``sync:project-id`` (in the ``.tf`` or in ``state``), each managed path
    the existing ``lifecycle.ignore_changes`` does not cover is ``missing``; an entry that covers a
    managed path and more (``all``, a whole block or map) is ``too_broad``; an entry that covers no
    managed path is ``unmanaged``. Indexes come from ``state`` when given, else from block order.
    :raises TerraformInputError: HCL syntax error, or ``state`` is not a plan/state document.
    """
    if state is not None:
        document_kind(state)
    parsed = _parse_hcl(tf_text)
    findings: list[ConfigFinding] = []
    for rtype, name, body in _hcl_resources(parsed):
        address = f"{rtype}.{name}"
        state_resource = _state_resource(state, address)
        if state is not None and state_resource is None:
            findings.append(
                ConfigFinding(
                    address, "note", "state", "not in the state; cluster indexes from block order"
                )
            )
        state_values = state_resource.get("values") if state_resource is not None else None
        expected, notes = _expected_paths(rtype, body, state_values, address)
        findings.extend(notes)
        covered: set[Plain] = set()
        for entry in _ignore_entries(body) if expected.known else []:
            finding, hits = _entry_finding(address, entry, expected)
            covered |= hits
            if finding is not None:
                findings.append(finding)
        for steps, (path, label) in expected.required.items():
            if steps not in covered:
                findings.append(
                    ConfigFinding(
                        address,
                        "missing",
                        path,
                        f"{path} ({label}) is not ignored: the next apply would revert it",
                    )
                )
        if not expected.known and not notes:
            hint = "" if state is not None else " (tags set by an expression? pass --state)"
            message = f'no cluster tagged custom_tags["{PROJECT_ID_TAG}"]: nothing to check{hint}'
            findings.append(ConfigFinding(address, "note", "untagged", message))
    return findings
