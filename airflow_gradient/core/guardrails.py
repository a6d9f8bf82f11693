"""Guard rails: limits a user sets on what a Gradient recommendation may do to a cluster.

Checked on the merged cluster spec (what the cluster would become), against the current spec
for the "may not change" rails. Pure: no I/O, no clock, no Airflow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from airflow_gradient.core.cluster.paths import format_path
from airflow_gradient.core.cluster.spec import CLOUD_ATTRIBUTE_FIELDS
from airflow_gradient.core.errors import GuardRailViolationError, InvalidGuardRailsError
from airflow_gradient.core.recommendation import state_name

__all__ = ["GuardRails", "check_guard_rails", "guard_rail_violations"]

AVAILABILITY_VALUES = frozenset(
    {
        "ON_DEMAND",
        "SPOT",
        "SPOT_WITH_FALLBACK",
        "ON_DEMAND_AZURE",
        "SPOT_AZURE",
        "SPOT_WITH_FALLBACK_AZURE",
        "ON_DEMAND_GCP",
        "PREEMPTIBLE_GCP",
        "PREEMPTIBLE_WITH_FALLBACK_GCP",
    }
)
"""Every ``availability`` value of ``aws_attributes``, ``azure_attributes``, ``gcp_attributes``."""

LEARNING_PHASE = "LEARNING"


def _patterns(name: str, value: Any) -> tuple[str, ...] | None:
    """Normalise a list of strings (or one string) to a tuple; None stays None."""
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not all(isinstance(i, str) and i for i in items):
        raise InvalidGuardRailsError(
            f"Guard rail {name} must be a list of non-empty strings (or null for no limit), "
            f"got {value!r}."
        )
    if not items:
        raise InvalidGuardRailsError(
            f"Guard rail {name} is an empty list, which would block every recommendation; "
            "leave it unset (null) for no limit."
        )
    return tuple(items)


@dataclass(frozen=True)
class GuardRails:
    """Limits on what a recommendation may change. The defaults allow everything.

    :param max_workers: upper bound for ``num_workers`` and ``autoscale.max_workers``.
    :param allowed_node_types: ``fnmatch`` patterns (case-sensitive, e.g. ``"m5.*"``) that
        ``node_type_id`` and ``driver_node_type_id`` must match.
    :param allowed_availability: allowed ``availability`` values of ``aws_attributes`` /
        ``azure_attributes`` / ``gcp_attributes`` (e.g. ``["ON_DEMAND"]`` to forbid spot).
    :param allow_spark_version_change: whether ``spark_version`` may change.
    :param allow_runtime_engine_change: whether the runtime engine (Photon or standard) may change.
    :param apply_during_learning: whether to apply while the project is in its LEARNING phase.
    """

    max_workers: int | None = None
    allowed_node_types: tuple[str, ...] | None = None
    allowed_availability: tuple[str, ...] | None = None
    allow_spark_version_change: bool = True
    allow_runtime_engine_change: bool = True
    apply_during_learning: bool = True

    def __post_init__(self) -> None:
        workers = self.max_workers
        if workers is not None and (
            not isinstance(workers, int) or isinstance(workers, bool) or workers < 0
        ):
            raise InvalidGuardRailsError(
                f"Guard rail max_workers must be an integer >= 0 (or null), got {workers!r}."
            )
        # Normalise lists to tuples so the rails stay hashable and immutable.
        object.__setattr__(
            self, "allowed_node_types", _patterns("allowed_node_types", self.allowed_node_types)
        )
        availability = _patterns("allowed_availability", self.allowed_availability)
        unknown = sorted(set(availability or ()) - AVAILABILITY_VALUES)
        if unknown:
            raise InvalidGuardRailsError(
                f"Guard rail allowed_availability has unknown values {unknown}; valid values: "
                f"{', '.join(sorted(AVAILABILITY_VALUES))}."
            )
        object.__setattr__(self, "allowed_availability", availability)
        for name in (
            "allow_spark_version_change",
            "allow_runtime_engine_change",
            "apply_during_learning",
        ):
            if not isinstance(getattr(self, name), bool):
                raise InvalidGuardRailsError(
                    f"Guard rail {name} must be true or false, got {getattr(self, name)!r}."
                )

    @classmethod
    def from_value(cls, value: GuardRails | Mapping[str, Any] | None) -> GuardRails:
        """Build guard rails from an operator argument: an instance, a dict, or None (no limits).

        :raises InvalidGuardRailsError: unknown keys (naming the valid ones) or wrong types.
        """
        if value is None:
            return cls()
        if isinstance(value, GuardRails):
            return value
        valid = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(value, Mapping):
            raise InvalidGuardRailsError(
                f"guard_rails must be a GuardRails, a dict or None, got {type(value).__name__}. "
                f"Valid keys: {', '.join(valid)}."
            )
        unknown = sorted(str(key) for key in value if key not in valid)
        if unknown:
            raise InvalidGuardRailsError(
                f"guard_rails has unknown keys {unknown}. Valid keys: {', '.join(valid)}."
            )
        return cls(**dict(value))


def _effective_engine(spec: Mapping[str, Any]) -> str:
    """The runtime engine a spec runs: ``runtime_engine``, or Photon if the version names it."""
    engine = spec.get("runtime_engine")
    if isinstance(engine, str) and engine not in ("", "NULL"):
        return engine
    version = spec.get("spark_version")
    return "PHOTON" if isinstance(version, str) and "photon" in version.lower() else "STANDARD"


def _shown(value: Any) -> str:
    return "(unset)" if value is None else repr(value)


def guard_rail_violations(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    phase: str | None,
    rails: GuardRails,
) -> list[str]:
    """Every guard rail the change from ``before`` to ``after`` (the merged spec) breaks.

    Limits (workers, node types, availability) apply to ``after``, the cluster as it would be;
    the "may not change" rails compare ``before`` and ``after``. The learning rail applies when
    ``phase`` is ``LEARNING`` (any case). Each violation is one sentence with the value and the
    limit; an empty list means the recommendation may be applied.
    """
    violations: list[str] = []
    if (
        not rails.apply_during_learning
        and phase is not None
        and state_name(phase.strip()) == LEARNING_PHASE
    ):
        violations.append(
            f"the project is in its {LEARNING_PHASE} phase ({phase!r}) and the guard rail "
            "apply_during_learning is off"
        )

    if rails.max_workers is not None:
        autoscale = after.get("autoscale")
        sizes = [("num_workers", after.get("num_workers"))]
        if isinstance(autoscale, Mapping):
            sizes.append(("autoscale.max_workers", autoscale.get("max_workers")))
        for path, size in sizes:
            if isinstance(size, int) and not isinstance(size, bool) and size > rails.max_workers:
                violations.append(
                    f"{path} would be {size}, above the max_workers guard rail of "
                    f"{rails.max_workers}"
                )

    if rails.allowed_node_types is not None:
        patterns = rails.allowed_node_types
        for field in ("node_type_id", "driver_node_type_id"):
            node_type = after.get(field)
            if isinstance(node_type, str) and not any(fnmatchcase(node_type, p) for p in patterns):
                violations.append(
                    f"{field} would be {node_type!r}, which matches none of the "
                    f"allowed_node_types patterns {list(patterns)}"
                )

    if rails.allowed_availability is not None:
        for field in CLOUD_ATTRIBUTE_FIELDS:
            attributes = after.get(field)
            if not isinstance(attributes, Mapping):
                continue
            availability = attributes.get("availability")
            if availability is not None and availability not in rails.allowed_availability:
                violations.append(
                    f"{format_path([field, 'availability'])} would be {availability!r}, not one "
                    f"of allowed_availability {list(rails.allowed_availability)}"
                )

    if not rails.allow_spark_version_change:
        old, new = before.get("spark_version"), after.get("spark_version")
        if old != new:
            violations.append(
                f"spark_version would change from {_shown(old)} to {_shown(new)}, and the guard "
                "rail allow_spark_version_change is off"
            )

    if not rails.allow_runtime_engine_change:
        old_engine, new_engine = _effective_engine(before), _effective_engine(after)
        if old_engine != new_engine:
            violations.append(
                f"the runtime engine would change from {old_engine} to {new_engine}, and the "
                "guard rail allow_runtime_engine_change is off"
            )
    return violations


def check_guard_rails(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    phase: str | None,
    rails: GuardRails,
    where: str,
) -> None:
    """Raise if applying ``after`` over ``before`` breaks any guard rail.

    :param where: what is being changed, e.g. ``"job 123 cluster job_clusters/main"``.
    :raises GuardRailViolationError: listing every violation (also in ``.violations``).
    """
    violations = guard_rail_violations(before, after, phase=phase, rails=rails)
    if not violations:
        return
    listing = "\n".join(f"  - {violation}" for violation in violations)
    count = f"{len(violations)} violation{'s' if len(violations) != 1 else ''}"
    raise GuardRailViolationError(
        f"The recommendation for {where} breaks the guard rails ({count}):\n{listing}\n"
        "Not applying it. Relax guard_rails if the change is acceptable, or adjust the "
        "project's settings in Gradient so that it recommends within them.",
        violations=violations,
    )
