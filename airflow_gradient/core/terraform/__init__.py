"""Which Terraform attributes Gradient manages, and whether a plan or a configuration respects them.

Pure functions over ``terraform show -json`` documents (plans and states), Gradient
recommendations and ``.tf`` text: no Airflow, no network, no files. The CLI
(``airflow-gradient terraform``) reads the files and prints what these functions return.

**Gradient-managed attributes** are the closed list a recommendation may set, defined once in
:data:`MANAGED_ATTRIBUTES`: the sizing pair (``num_workers`` and ``autoscale``, always together,
since a switch between fixed size and autoscaling drifts on both), ``node_type_id``,
``driver_node_type_id``, ``spark_version``, ``runtime_engine``, the ``aws_attributes`` /
``azure_attributes`` fields a recommendation sets, four ``custom_tags["sync:..."]`` entries and
``spark_conf["spark.databricks.isv.product"]``. Map entries are listed one by one, never whole maps.

Decisions where the issue was silent:

* **Cloud fields.** Without a recommendation, a cluster gets the fields of the cloud it runs on:
  the ``aws_attributes`` / ``azure_attributes`` block it has in the JSON (or in the ``.tf``);
  without either block, its ``node_type_id`` (``Standard_...`` is Azure, ``family.size`` is AWS);
  when that says nothing either, both clouds are listed (an entry for an absent block is harmless).
* **With a recommendation**, only the managed paths it sets are listed, plus the sizing pair.
  Settings it makes outside the closed list (e.g. ``spark_conf["spark.sql.shuffle.partitions"]``)
  are not listed; :func:`unmanaged_settings` names them so the CLI can say so.
* **Which clusters.** Default: those tagged ``custom_tags["sync:project-id"]``. ``check`` looks at
  clusters tagged before or after the change; ``check-config`` at clusters tagged in the ``.tf`` or
  in the state. A ``databricks_cluster`` named by address is its own single cluster.
* **Cluster keys** are ``job_cluster_key`` or ``task_key``; where both exist with one name, qualify
  it like a Gradient ``cluster_path``: ``job_clusters/KEY`` or ``tasks/KEY``. A key is resolved
  by :func:`~airflow_gradient.core.cluster.locate.locate_cluster`, the rule apply and rollback
  use; the default (every tagged cluster, any project) stays the CLI's own, since the CLI knows
  no project id.
* **Indexes** come from the JSON (planned values of a plan, else its prior state; the values of a
  state) by key. ``check-config`` without ``--state`` falls back to the order of the blocks in the
  ``.tf`` and says it cannot when the blocks are ``dynamic``.
* ``check-config`` requires ``node_type_id`` / ``driver_node_type_id`` only where the ``.tf`` sets
  them (they do not drift otherwise); the generator cannot know and always lists them.
* ``check`` counts an ``update`` and a replacement (``delete`` + ``create``) as a revert, and a
  managed value that becomes "known after apply" too.
* :class:`TerraformInputError` is a core error (and a ``ValueError``): the core imports no
  Airflow, which would add seconds to a CI helper that never runs inside Airflow.
* **Modules**: :mod:`.managed` (the closed list), :mod:`.documents` (plans, states, clusters),
  :mod:`.ignore_changes` (the generator), :mod:`.plan_check`, :mod:`.config_check`.
"""

from __future__ import annotations

from airflow_gradient.core.errors import TerraformInputError
from airflow_gradient.core.terraform.config_check import ConfigFinding, config_findings
from airflow_gradient.core.terraform.documents import ClusterRef, clusters_of, document_kind
from airflow_gradient.core.terraform.ignore_changes import (
    clusters_for,
    ignore_changes_for,
    lifecycle_block,
)
from airflow_gradient.core.terraform.managed import (
    ManagedAttribute,
    MapKey,
    recommendation_configuration,
    render_path,
    unmanaged_settings,
)
from airflow_gradient.core.terraform.plan_check import RevertedPath, reverted_paths

__all__ = [
    "ClusterRef",
    "ConfigFinding",
    "ManagedAttribute",
    "MapKey",
    "RevertedPath",
    "TerraformInputError",
    "clusters_for",
    "clusters_of",
    "config_findings",
    "document_kind",
    "ignore_changes_for",
    "lifecycle_block",
    "recommendation_configuration",
    "render_path",
    "reverted_paths",
    "unmanaged_settings",
]
