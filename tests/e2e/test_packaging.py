"""Every module of the package ships in a built wheel: each folder with code is a package."""

from __future__ import annotations

from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]


def test_every_code_folder_is_found_as_a_package() -> None:
    found = set(find_packages(where=str(ROOT), include=["airflow_gradient*"]))
    code_folders = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "airflow_gradient").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert code_folders - found == set()


def test_the_wheel_carries_license_urls_types_and_one_version(tmp_path: Path) -> None:
    """What PyPI and pip see: built here with uv, read from the wheel's metadata."""
    import subprocess
    import sys
    import zipfile

    import airflow_gradient

    uv = Path(sys.executable).with_name("uv")
    built = subprocess.run(
        [str(uv), "build", "--wheel", "--out-dir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = tmp_path.glob("airflow_gradient-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [meta_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = archive.read(meta_name).decode()
    headers = [line for line in meta.splitlines() if ": " in line and not line.startswith(" ")]

    assert f"Version: {airflow_gradient.__version__}" in headers
    assert "License-Expression: Apache-2.0" in headers
    assert "License-File: LICENSE" in headers
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "airflow_gradient/py.typed" in names
    requires = [h.split(": ", 1)[1] for h in headers if h.startswith("Requires-Dist")]
    plain = {r.split(">")[0].split("=")[0].strip() for r in requires if "extra ==" not in r}
    # Every third-party module the package imports outside the optional extra is declared.
    assert {
        "apache-airflow",
        "apache-airflow-providers-common-compat",
        "apache-airflow-providers-databricks",
        "databricks-sdk",
        "httpx",
        "packaging",
        "tenacity",
    } <= plain
    # Imported by the tests only: the dev extra, not a requirement of the package.
    assert {"pendulum", "requests"}.isdisjoint(plain)
    assert "python-hcl2" not in plain
    # No project URL until one is verified; the maintainers, never Sync Computing, as authors.
    assert not [h for h in headers if h.startswith(("Project-URL", "Home-page"))]
    assert "Author: airflow-gradient maintainers" in headers
    assert not [h for h in headers if "sync computing" in h.lower() and h.startswith("Author")]
    assert any(r.startswith("sphinx>=") and 'extra == "docs"' in r for r in requires)
    assert any(r.startswith("python-hcl2") and 'extra == "terraform"' in r for r in requires)
    assert "Classifier: Framework :: Apache Airflow :: Provider" in headers
    assert "Classifier: Programming Language :: Python :: 3.11" in headers
    assert not any(n.startswith(("tests/", "example_dags/", "compat/")) for n in names)


#: Imported only inside the hook's form methods, which Airflow 2.11/3.0/3.1 call from its own UI
#: code with these installed (or mocked): they belong to Airflow, not to this package.
AIRFLOW_UI_MODULES = {"wtforms", "flask_babel", "flask_appbuilder"}


#: Extras for working on the package (tests, docs, the deployment and browser checks), not for
#: a feature of it: the package itself must not import what only they declare.
TOOLING_EXTRAS = {"dev", "docs", "deployment", "browser"}


def test_every_third_party_module_imported_is_declared() -> None:
    import ast
    import sys
    import tomllib
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        req.split(">")[0].split("=")[0].split("[")[0].strip().lower()
        for req in project["dependencies"]
        + [
            req
            for extra, reqs in project["optional-dependencies"].items()
            if extra not in TOOLING_EXTRAS  # the extras of the package's own optional features
            for req in reqs
        ]
    }
    imported: set[str] = set()
    for path in (ROOT / "airflow_gradient").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"airflow_gradient"}
    owners = packages_distributions()
    undeclared = {}
    for module in sorted(third_party - AIRFLOW_UI_MODULES):
        dists = {d.lower() for d in owners.get(module, [])}
        if module == "airflow":  # namespace shared by Airflow and its providers
            dists = {"apache-airflow"}
        if not dists & declared:
            undeclared[module] = sorted(dists)
    assert undeclared == {}


def _imported_modules() -> set[str]:
    """Every module name the package imports (dotted, as written), lazily or not."""
    import ast

    imported: set[str] = set()
    for path in (ROOT / "airflow_gradient").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module)
    return imported


def test_every_declared_dependency_is_imported_by_the_package() -> None:
    """The reverse of the test above: a requirement the package never imports (one the tests
    use, or one left behind) belongs in an extra, or nowhere."""
    import tomllib
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    imported = _imported_modules()
    tops = {name.split(".", maxsplit=1)[0] for name in imported}
    modules_of: dict[str, set[str]] = {}
    for module, dists in packages_distributions().items():
        for dist in dists:
            modules_of.setdefault(dist.lower(), set()).add(module)
    unused = []
    for requirement in project["dependencies"]:
        dist = requirement.split(">")[0].split("=")[0].split("[")[0].strip().lower()
        if dist == "apache-airflow":
            used = "airflow" in tops
        elif dist.startswith("apache-airflow-providers-"):
            # Providers share the ``airflow`` namespace: look for their own subpackage.
            package = "airflow.providers." + dist.removeprefix("apache-airflow-providers-")
            package = package.replace("-", ".")
            used = any(name == package or name.startswith(package + ".") for name in imported)
        else:
            used = bool(modules_of.get(dist, set()) & tops)
        if not used:
            unused.append(dist)
    assert unused == []
