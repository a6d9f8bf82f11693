"""A DAG file importing our operators pays for nothing heavy at parse time."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_benchmark() -> ModuleType:
    """``benchmarks/dag_parse.py``: the test and the benchmark share the child and the checks."""
    spec = importlib.util.spec_from_file_location("dag_parse", REPO / "benchmarks" / "dag_parse.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gradient_free_twin_keeps_the_rest_of_the_dag() -> None:
    bench = load_benchmark()
    source = (REPO / "example_dags" / "gradient_apply_then_run.py").read_text(encoding="utf-8")

    twin = bench.without_gradient(source)

    assert "GradientApplyRecommendationOperator(" not in twin
    assert "from airflow_gradient" not in twin
    assert "DatabricksRunNowOperator(task_id='run_job'" in twin
    with pytest.raises(ValueError, match="could not remove"):
        bench.without_gradient(twin)


def test_parsing_the_example_dag_loads_only_light_modules_of_ours(tmp_path: Path) -> None:
    """One fresh interpreter parses the Gradient-free twin, then the example DAG; what the
    second parse adds is what the Gradient task costs."""
    bench = load_benchmark()
    with_gradient, baseline = bench.write_variants(tmp_path)
    home = tmp_path / "home"
    home.mkdir()

    result = bench.run_child(with_gradient, home, first=baseline, bytecode=False)

    assert result["tasks"] == ["apply_recommendation", "run_job"]
    ours = bench.gradient_modules(result)
    assert "airflow_gradient.operators.apply" in ours
    assert [m for m in ours if not m.startswith("airflow_gradient.")] == []
    assert [m for m in ours if bench.is_heavy(m)] == []
    loaded = result["loaded"]
    for name in ("databricks.sdk", "wtforms", "flask_appbuilder", "hcl2"):
        assert loaded[name] is False, name
    for name in bench.HEAVY:
        if name.startswith("airflow_gradient"):
            assert loaded[name] is False, name
