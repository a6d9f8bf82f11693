"""What a Gradient task adds to parsing a DAG file, and which modules it pulls in.

Parses ``example_dags/gradient_apply_then_run.py`` and the same DAG without the Gradient task
(generated on the fly: the ``airflow_gradient`` import, the apply task and its ``>>`` line
removed) in fresh subprocesses, alternating the two, ``--repeat`` times each. Each child:

1. imports the ``airflow.*`` modules the file imports, as the DAG processor does in its
   long-lived parent before it forks a child per file (``parsing_pre_import_modules``);
2. parses the file with ``DagBag(dag_folder=<file>)``, timed (wall and CPU), with bytecode
   cached as in a deployment (one untimed warm-up run per variant first);
3. reports which heavy modules are loaded.

Two ratios, each the median of the per-round ratios (with / without): the whole process
(interpreter start, Airflow import, parse; what a cold parse costs) and the parse step alone
(what each re-parse in the DAG processor's child costs). Goal: whole-process ratio <= 1.10.
Prints Markdown tables; paste them into BENCHMARKS.md.

    .venv/bin/python benchmarks/dag_parse.py [--repeat 7] [--importtime]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "example_dags" / "gradient_apply_then_run.py"
GOAL = 1.10

#: Modules a DAG file importing our operators must not load.
HEAVY = (
    "httpx",
    "databricks.sdk",
    "wtforms",
    "flask_appbuilder",
    "hcl2",
    "airflow_gradient.sandbox",
    "airflow_gradient.hooks.gradient",
    "airflow_gradient.hooks.databricks",
)

#: Runs in each child: ``python -c CHILD <dag file> [<file imported first>]``. With a second
#: file, that file is parsed first and only the modules added by the DAG file are reported.
CHILD = """
import importlib, json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from airflow.utils.file import iter_airflow_imports
from airflow.models import DagBag
path = sys.argv[1]
first = set(sys.modules)
if len(sys.argv) > 2:
    DagBag(dag_folder=sys.argv[2])
    first = set(sys.modules)
for name in iter_airflow_imports(path):
    importlib.import_module(name)
before = set(sys.modules)
t1, c1 = time.perf_counter(), time.process_time()
bag = DagBag(dag_folder=path)
t2, c2 = time.perf_counter(), time.process_time()
assert not bag.import_errors, bag.import_errors
assert len(bag.dags) == 1, sorted(bag.dags)
print("RESULT" + json.dumps({
    "parse_wall": t2 - t1, "parse_cpu": c2 - c1,
    "added": sorted(set(sys.modules) - before),
    "added_since_first": sorted(set(sys.modules) - first),
    "loaded": {name: name in sys.modules for name in json.loads(sys.argv[-1])},
    "tasks": sorted(next(iter(bag.dags.values())).task_ids),
}))
"""


def without_gradient(source: str) -> str:
    """``source`` with everything from ``airflow_gradient`` removed.

    Drops imports of ``airflow_gradient``, assignments whose value calls an imported name,
    and statements that use a variable bound by such an assignment (the ``>>`` lines).
    """
    tree = ast.parse(source)
    imported: set[str] = set()
    bound: set[str] = set()

    class Strip(ast.NodeTransformer):
        def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST | None:
            if (node.module or "").split(".")[0] == "airflow_gradient":
                imported.update(alias.asname or alias.name for alias in node.names)
                return None
            return node

        def visit_Import(self, node: ast.Import) -> ast.AST | None:
            ours = [a for a in node.names if a.name.split(".")[0] == "airflow_gradient"]
            imported.update((a.asname or a.name).split(".")[0] for a in ours)
            node.names = [a for a in node.names if a not in ours]
            return node if node.names else None

        def visit_Assign(self, node: ast.Assign) -> ast.AST | None:
            call = node.value
            if isinstance(call, ast.Call) and _names(call.func) & imported:
                bound.update(n for t in node.targets for n in _names(t))
                return None
            return node

        def visit_Expr(self, node: ast.Expr) -> ast.AST | None:
            return None if _names(node) & bound else node

        def visit_With(self, node: ast.With) -> ast.AST:
            self.generic_visit(node)
            node.body = node.body or [ast.Pass()]
            return node

    stripped = ast.fix_missing_locations(Strip().visit(tree))
    left = _names(stripped) & (imported | bound)
    if not imported or left:
        raise ValueError(f"could not remove the Gradient task cleanly (left: {sorted(left)})")
    return ast.unparse(stripped) + "\n"


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def child_env(home: Path, *, bytecode: bool = True) -> dict[str, str]:
    """A fresh Airflow home, nothing inherited from the caller's Airflow settings.

    With ``bytecode``, bytecode is cached (as in any installed deployment) under
    ``<home>/pycache``, outside the source tree, even where ``PYTHONDONTWRITEBYTECODE`` is set:
    otherwise every child recompiles our modules and the timings measure the compiler.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR",
    )
    return env


def run_child(
    dag_file: Path,
    home: Path,
    *,
    first: Path | None = None,
    modules: Iterable[str] = HEAVY,
    bytecode: bool = True,
) -> dict[str, Any]:
    """Parse ``dag_file`` in a fresh interpreter; also time the whole process (wall, CPU)."""
    args = [sys.executable, "-c", CHILD, str(dag_file)]
    args += [str(first)] if first else []
    args.append(json.dumps(list(modules)))
    start = time.perf_counter()
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(home, bytecode=bytecode),
        cwd=home,
    )
    out, err = proc.communicate(timeout=300)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or "RESULT" not in out:
        raise RuntimeError(f"parsing {dag_file} failed:\n{err[-3000:]}")
    result: dict[str, Any] = json.loads(out.rsplit("RESULT", 1)[1])
    result["process_wall"] = wall
    return result


def write_variants(folder: Path, example: Path = EXAMPLE) -> tuple[Path, Path]:
    """The example DAG file and its Gradient-free twin, each in its own DAG folder."""
    with_gradient = folder / "with_gradient" / example.name
    baseline = folder / "without_gradient" / example.name
    for path in (with_gradient, baseline):
        path.parent.mkdir(parents=True, exist_ok=True)
    source = example.read_text(encoding="utf-8")
    with_gradient.write_text(source, encoding="utf-8")
    baseline.write_text(without_gradient(source), encoding="utf-8")
    return with_gradient, baseline


def gradient_modules(result: dict[str, Any]) -> list[str]:
    """Modules loaded by the Gradient DAG on top of the Gradient-free one (the DAG file's own
    module, named ``unusual_prefix_<hash>_...`` by Airflow, left out)."""
    return [m for m in result["added_since_first"] if not m.startswith("unusual_prefix_")]


def is_heavy(module: str) -> bool:
    """True if ``module`` is one of :data:`HEAVY` or inside one of them."""
    return any(module == name or module.startswith(f"{name}.") for name in HEAVY)


def _cpu_of_children() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(repeat: int, example: Path = EXAMPLE) -> dict[str, Any]:
    """``repeat`` rounds, each parsing both variants in fresh processes, order alternating."""
    work = Path(tempfile.mkdtemp(prefix="gradient-dag-parse-"))
    with_gradient, baseline = write_variants(work, example)
    home = work / "home"
    home.mkdir()
    for path in (with_gradient, baseline):  # warm the bytecode cache, untimed
        run_child(path, home)
    rounds: list[dict[str, dict[str, Any]]] = []
    for i in range(repeat):
        order = [("with", with_gradient), ("without", baseline)]
        results: dict[str, dict[str, Any]] = {}
        for name, path in order if i % 2 == 0 else order[::-1]:
            cpu_before = _cpu_of_children()
            results[name] = run_child(path, home)
            results[name]["process_cpu"] = _cpu_of_children() - cpu_before
        rounds.append(results)
        print(
            f"round {i + 1}/{repeat}: process {results['with']['process_wall']:.2f} s vs "
            f"{results['without']['process_wall']:.2f} s",
            file=sys.stderr,
        )
    added = run_child(with_gradient, home, first=baseline)
    return {"rounds": rounds, "added": added, "example": example}


def _median(rounds: list[dict[str, dict[str, Any]]], variant: str, key: str) -> float:
    return float(statistics.median(r[variant][key] for r in rounds))


def _difference(rounds: list[dict[str, dict[str, Any]]], key: str) -> float:
    return float(statistics.median(r["with"][key] - r["without"][key] for r in rounds))


def _ratio(rounds: list[dict[str, dict[str, Any]]], key: str) -> float:
    return float(statistics.median(r["with"][key] / r["without"][key] for r in rounds))


def report(found: dict[str, Any]) -> str:
    """Markdown tables of the timings and of the modules."""
    rounds, added = found["rounds"], found["added"]
    rows = [
        ("whole process, wall", "process_wall", 1.0, "s", f"≤ {GOAL:.2f}"),
        ("whole process, CPU", "process_cpu", 1.0, "s", f"≤ {GOAL:.2f}"),
        ("parse step (`DagBag`), wall", "parse_wall", 1000.0, "ms", "-"),
        ("parse step (`DagBag`), CPU", "parse_cpu", 1000.0, "ms", "-"),
    ]
    lines = [
        f"`{found['example'].relative_to(REPO)}` with and without the Gradient task, "
        f"{len(rounds)} fresh processes each, alternating; medians (difference and ratio: "
        "medians of the per-round differences and ratios).",
        "",
        "| measure | with Gradient task | without | difference | ratio | goal |",
        "|---|---|---|---|---|---|",
    ]
    for label, key, scale, unit, goal in rows:
        with_, without = _median(rounds, "with", key), _median(rounds, "without", key)
        digits = 2 if unit == "s" else 1
        lines.append(
            f"| {label} | {with_ * scale:.{digits}f} {unit} | {without * scale:.{digits}f} "
            f"{unit} | {_difference(rounds, key) * scale:+.{digits}f} {unit} | "
            f"{_ratio(rounds, key):.3f} | {goal} |"
        )
    ours = gradient_modules(added)
    lines += [
        "",
        "| module | loaded after parsing the Gradient DAG | loaded by the Gradient task |",
        "|---|---|---|",
    ]
    for name in HEAVY:
        by_us = any(m == name or m.startswith(f"{name}.") for m in ours)
        loaded = added["loaded"][name]
        lines.append(f"| `{name}` | {'yes' if loaded else 'no'} | {'**yes**' if by_us else 'no'} |")
    lines += ["", f"Modules the Gradient task adds: {', '.join(f'`{m}`' for m in ours)}."]
    return "\n".join(lines)


def explain(example: Path = EXAMPLE) -> str:
    """``python -X importtime`` of the modules the Gradient task adds, slowest first."""
    work = Path(tempfile.mkdtemp(prefix="gradient-dag-parse-"))
    with_gradient, baseline = write_variants(work, example)
    home = work / "home"
    home.mkdir()
    run_child(with_gradient, home, first=baseline)  # warm the bytecode cache
    proc = subprocess.run(
        [
            *(sys.executable, "-X", "importtime", "-c", CHILD),
            *(str(with_gradient), str(baseline), json.dumps(list(HEAVY))),
        ],
        capture_output=True,
        text=True,
        env=child_env(home),
        cwd=home,
        timeout=300,
        check=True,
    )
    ours = set(gradient_modules(json.loads(proc.stdout.rsplit("RESULT", 1)[1])))
    rows = []
    for line in proc.stderr.splitlines():
        # "import time:  <self us> | <cumulative us> | <indented module name>"
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[2].strip() in ours:
            rows.append((int(parts[1]), int(parts[0]), parts[2].strip()))
    out = ["| module | self (µs) | cumulative (µs) |", "|---|---|---|"]
    out += [f"| `{name}` | {own} | {cum} |" for cum, own, name in sorted(rows, reverse=True)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="processes per variant")
    parser.add_argument(
        "--importtime", action="store_true", help="also show import times of what we add"
    )
    args = parser.parse_args(argv)
    found = measure(args.repeat)
    print(report(found))
    if args.importtime:
        print()
        print(explain())
    ratio = _ratio(found["rounds"], "process_wall")
    heavy_by_us = [m for m in gradient_modules(found["added"]) if is_heavy(m)]
    return 0 if ratio <= GOAL and not heavy_by_us else 1


if __name__ == "__main__":
    sys.exit(main())
