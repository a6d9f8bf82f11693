"""Apply-time detection: is the job owned by an Asset Bundle, and what does the apply do then.

``jobs/get`` says it: ``settings.deployment = {"kind": "BUNDLE", "metadata_file_path": ...}``
(set by ``databricks bundle deploy``, with ``edit_mode = "UI_LOCKED"``). The next deploy resets
the whole job from the bundle's YAML, reverting what an apply writes, unless the recommendation
is written into the bundle (``airflow-gradient bundle write-back``). ``kind: "SYSTEM_MANAGED"``
jobs are managed by Databricks and read-only: never written.

``on_bundle`` (:data:`ON_BUNDLE`) chooses: ``"warn"`` (the default) applies and logs a warning
naming the bundle, the target and the fixing command; ``"fail"`` refuses before any write;
``"apply"`` applies and logs the facts at INFO. Default ``"warn"`` because the apply still does
its job (the run right after it uses the recommendation; ``jobs/update`` works on UI-locked
jobs) and a provider upgrade must not break DAGs that work today; teams whose bundles are the
source of truth opt into ``"fail"``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from airflow_gradient.core.apply_options import ON_BUNDLE
from airflow_gradient.core.errors import BundleOwnedJobError

__all__ = [
    "BundleDecision",
    "BundleFacts",
    "BundleOwnership",
    "bundle_decision",
    "bundle_ownership",
]

BUNDLES_GUIDE = "docs/bundles.md in the airflow-gradient repository"

# The CLI's default state path: <root>/.bundle/<bundle name>/<target>/state/metadata.json
_DEFAULT_STATE = re.compile(r"/\.bundle/(?P<bundle>[^/]+)/(?P<target>[^/]+)/state/metadata\.json\Z")


class BundleFacts(TypedDict):
    """The bundle facts of a job, as the apply's XCom carries them (``bundle`` / ``target``
    are ``None`` when the state path is not the CLI's default layout)."""

    kind: str
    bundle: str | None
    target: str | None
    metadata_file_path: str | None
    edit_mode: str | None
    deployment_id: str | None


@dataclass(frozen=True)
class BundleOwnership:
    """What ``settings.deployment`` / ``settings.edit_mode`` say about a job."""

    kind: str
    metadata_file_path: str | None
    edit_mode: str | None
    deployment_id: str | None = None

    @property
    def bundle(self) -> str | None:
        """The bundle name, read from the state path (the CLI's default layout only)."""
        match = _DEFAULT_STATE.search(self.metadata_file_path or "")
        return match.group("bundle") if match else None

    @property
    def target(self) -> str | None:
        """The target the job was deployed from, read from the state path."""
        match = _DEFAULT_STATE.search(self.metadata_file_path or "")
        return match.group("target") if match else None

    def facts(self) -> BundleFacts:
        """The JSON-safe facts for the XCom."""
        return BundleFacts(
            kind=self.kind,
            bundle=self.bundle,
            target=self.target,
            metadata_file_path=self.metadata_file_path,
            edit_mode=self.edit_mode,
            deployment_id=self.deployment_id,
        )


def bundle_ownership(settings: Mapping[str, Any]) -> BundleOwnership | None:
    """The job's deployment facts, or ``None`` when no tool deploys it."""
    deployment = settings.get("deployment")
    if not isinstance(deployment, Mapping) or not deployment.get("kind"):
        return None

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    return BundleOwnership(
        kind=str(deployment["kind"]),
        metadata_file_path=text(deployment.get("metadata_file_path")),
        edit_mode=text(settings.get("edit_mode")),
        deployment_id=text(deployment.get("deployment_id")),
    )


@dataclass(frozen=True)
class BundleDecision:
    """What the apply does about the job's bundle: ``level`` says how to log ``message``."""

    ownership: BundleOwnership | None
    level: Literal["none", "info", "warning"]
    message: str

    @property
    def facts(self) -> BundleFacts | None:
        return self.ownership.facts() if self.ownership else None


def _describe(ownership: BundleOwnership, job_id: int | str) -> tuple[str, str]:
    """(who owns the job, the command that writes the recommendation into the bundle)."""
    if ownership.bundle:
        owner = f"bundle {ownership.bundle!r}, target {ownership.target!r}"
    else:
        owner = "an Asset Bundle" + (
            f" (state {ownership.metadata_file_path})" if ownership.metadata_file_path else ""
        )
    target = ownership.target or "TARGET"
    command = (
        f"airflow-gradient bundle write-back BUNDLE_DIR --target {target} --job JOB_KEY "
        f"--from-job {job_id}"
    )
    return owner, command


def bundle_decision(
    settings: Mapping[str, Any], on_bundle: str, *, job_id: int | str, action: str = "apply"
) -> BundleDecision:
    """Decide what a write to the job does about its bundle (THE rule for apply, rollback and
    the workflow operator).

    :param settings: the job's ``settings`` from ``jobs/get``.
    :param on_bundle: one of :data:`ON_BUNDLE`.
    :param action: what the caller is about to write, for the messages ("apply", "rollback").
    :raises BundleOwnedJobError: a ``SYSTEM_MANAGED`` job (always), or a bundle-owned job with
        ``on_bundle="fail"``; nothing has been written.
    :raises ValueError: an unknown ``on_bundle``.
    """
    if on_bundle not in ON_BUNDLE:
        raise ValueError(f"on_bundle must be one of {ON_BUNDLE}, not {on_bundle!r}")
    ownership = bundle_ownership(settings)
    if ownership is None:
        return BundleDecision(None, "none", f"Databricks job {job_id} is not bundle-deployed.")
    if ownership.kind == "SYSTEM_MANAGED":
        raise BundleOwnedJobError(
            f"Databricks job {job_id} is managed by Databricks (deployment.kind SYSTEM_MANAGED) "
            f"and read-only: the {action} writes nothing to it. Tune a job you own instead."
        )
    owner, command = _describe(ownership, job_id)
    if ownership.kind != "BUNDLE":
        return BundleDecision(
            ownership,
            "warning",
            f"Databricks job {job_id} is deployed by a tool (deployment.kind "
            f"{ownership.kind}); its next deploy may revert this {action}.",
        )
    facts = (
        f"Databricks job {job_id} is owned by {owner} (edit_mode {ownership.edit_mode}): the "
        f"next `databricks bundle deploy` resets the job from the bundle and reverts this "
        f"{action}. Write the recommendation into the bundle with `{command}`; see "
        f"{BUNDLES_GUIDE}."
    )
    if on_bundle == "fail":
        raise BundleOwnedJobError(f"{facts} on_bundle='fail': nothing was written.")
    level: Literal["info", "warning"] = "warning" if on_bundle == "warn" else "info"
    return BundleDecision(ownership, level, facts)
