"""The package refuses, with a clear message, an Airflow older than the tested minimum."""

from __future__ import annotations

import pytest

import airflow_gradient
from airflow_gradient import MIN_AIRFLOW_VERSION, _check_airflow_version, _installed_airflow


@pytest.mark.parametrize("installed", ["2.10.5", "2.11.0", "2.11.1"])
def test_an_older_airflow_is_refused_naming_the_minimum(installed: str) -> None:
    with pytest.raises(RuntimeError) as caught:
        _check_airflow_version(installed)
    message = str(caught.value)
    assert f"needs Apache Airflow {MIN_AIRFLOW_VERSION}+" in message
    assert f"Airflow {installed} is installed" in message
    assert "compatibility table in the airflow-gradient documentation" in message
    assert "http" not in message


@pytest.mark.parametrize(
    "installed", [MIN_AIRFLOW_VERSION, "2.11.2.post1", "3.0.6", "3.3.2", "3.4.0.dev0"]
)
def test_a_supported_airflow_passes(installed: str) -> None:
    _check_airflow_version(installed)


def test_the_installed_airflow_is_read_from_its_metadata() -> None:
    import airflow

    assert _installed_airflow() == airflow.__version__
    assert airflow_gradient.MIN_AIRFLOW_VERSION == "2.11.2"
