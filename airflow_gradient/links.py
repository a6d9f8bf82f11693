"""Extra links on Gradient tasks: one small class per page, filled from XCom at execute time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey


class _XComLink(BaseOperatorLink):
    """A link whose URL the task stored in XCom under ``key`` while it ran."""

    key: ClassVar[str]

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.providers.common.compat.sdk import XCom

        value: Any = XCom.get_value(key=self.key, ti_key=ti_key)
        return str(value) if value else ""

    @classmethod
    def persist(cls, context: Context, url: str) -> None:
        """Store the URL for this link of the running task."""
        context["ti"].xcom_push(key=cls.key, value=url)


class GradientProjectLink(_XComLink):
    """The Gradient project page of the recommendation that was applied."""

    name = "Gradient project"
    key = "gradient_project_url"


class DatabricksJobLink(_XComLink):
    """The Databricks job whose cluster was updated."""

    name = "Databricks job"
    key = "databricks_job_url"


def gradient_project_url(api_base_url: str, project_id: str) -> str:
    """The web page of a project: the app host sits beside the ``api.`` host."""
    base = api_base_url.rstrip("/")
    if "://api." in base:
        base = base.replace("://api.", "://app.", 1)
    return f"{base}/projects/{project_id}"
