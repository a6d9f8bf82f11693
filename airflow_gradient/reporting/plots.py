"""The report's plots as PNG bytes, drawn with matplotlib (the ``report`` extra).

Two figures: run duration (actual and predicted) and predicted cost over time with every
change of recommendation marked; and a per-field timeline of the tuned cluster (workers, node
types). matplotlib is imported here only, with its file-only ``Agg`` backend.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from airflow_gradient.core.history import History

MISSING_EXTRA = (
    "airflow-gradient report draws its plots with matplotlib, which is not installed; install "
    "it with: pip install 'airflow-gradient[report]'"
)
_CHANGE_COLOURS = {
    "applied": "tab:green",
    "replaced": "tab:blue",
    "reverted": "tab:red",
    "overridden": "tab:orange",
    "restored": "tab:purple",
}


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError(MISSING_EXTRA) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(figure)
    return buffer.getvalue()


def _mark_changes(axes: Any, history: History, *, label: bool) -> None:
    for change in history.changes:
        colour = _CHANGE_COLOURS.get(change.kind, "grey")
        axes.axvline(_when(change.at), color=colour, linestyle="--", linewidth=1, alpha=0.8)
        if label:
            text = f"{change.kind} {str(change.recommendation_id or '')[:8]}"
            # Just left of its line (not struck through by it), under the data points.
            axes.annotate(
                text,
                xy=(_when(change.at), 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(-2, -2),
                textcoords="offset points",
                rotation=90,
                va="top",
                ha="right",
                fontsize=7,
                color=colour,
                zorder=1,
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7},
            )


def _workers(cluster: dict[str, Any]) -> float | None:
    if isinstance(cluster.get("num_workers"), int):
        return float(cluster["num_workers"])
    autoscale = cluster.get("autoscale")
    if isinstance(autoscale, dict) and isinstance(autoscale.get("max_workers"), int):
        return float(autoscale["max_workers"])
    return None


def duration_and_cost_png(history: History) -> bytes:
    """Run duration (actual by result, predicted) and predicted cost, changes marked."""
    plt = _pyplot()
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    runs = [r for r in history.runs if r.duration_minutes is not None]
    succeeded = [r for r in runs if r.result == "SUCCESS"]
    other = [r for r in runs if r.result != "SUCCESS"]
    for chosen, colour, label in (
        (succeeded, "tab:green", "actual (success)"),
        (other, "tab:red", "actual (failed or cancelled)"),
    ):
        if chosen:
            top.scatter(
                [_when(r.started_at) for r in chosen],
                [r.duration_minutes for r in chosen],
                color=colour,
                label=label,
                zorder=3,
            )
    predicted = [r for r in history.runs if r.predicted_duration_minutes is not None]
    if predicted:
        top.step(
            [_when(r.started_at) for r in predicted],
            [r.predicted_duration_minutes for r in predicted],
            where="post",
            color="tab:blue",
            label="predicted (recommendation in force)",
        )
    top.set_ylabel("run duration (min)")
    top.set_title(f"Databricks job {history.job_id} — Gradient project {history.project_id}")
    top.legend(loc="best", fontsize=8)
    costed = [r for r in history.runs if r.predicted_cost_usd is not None]
    if costed:
        bottom.step(
            [_when(r.started_at) for r in costed],
            [r.predicted_cost_usd for r in costed],
            where="post",
            color="tab:purple",
            marker="o",
        )
    bottom.set_ylabel("predicted cost (USD)")
    bottom.set_xlabel("run start (UTC)")
    _mark_changes(top, history, label=True)
    _mark_changes(bottom, history, label=False)
    figure.autofmt_xdate()
    return _png(figure)


def cluster_timeline_png(history: History) -> bytes:
    """Workers and node types of the tuned cluster, run by run, changes marked."""
    plt = _pyplot()
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
    times = [_when(r.started_at) for r in history.runs]
    workers = [_workers(r.cluster) for r in history.runs]
    top.step(times, workers, where="post", marker="o", color="tab:blue")
    top.set_ylabel("workers")
    top.set_title("Tuned cluster, as each run used it")
    node_types = sorted(
        {
            str(r.cluster.get(k))
            for r in history.runs
            for k in ("node_type_id", "driver_node_type_id")
        }
        - {"None"}
    )
    levels = {name: i for i, name in enumerate(node_types)}
    for key, marker, colour in (
        ("node_type_id", "o", "tab:green"),
        ("driver_node_type_id", "x", "tab:grey"),
    ):
        points = [
            (t, levels[str(r.cluster[key])])
            for t, r in zip(times, history.runs, strict=True)
            if r.cluster.get(key)
        ]
        if points:
            bottom.plot(
                [p[0] for p in points], [p[1] for p in points], marker, color=colour, label=key
            )
    bottom.set_yticks(range(len(node_types)))
    bottom.set_yticklabels(node_types)
    bottom.set_ylabel("node type")
    bottom.set_xlabel("run start (UTC)")
    bottom.legend(loc="upper left", fontsize=8)
    _mark_changes(top, history, label=True)
    _mark_changes(bottom, history, label=False)
    figure.autofmt_xdate()
    return _png(figure)
