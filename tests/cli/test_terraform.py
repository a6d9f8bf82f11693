"""``airflow-gradient terraform``: through ``airflow_gradient.cli.main`` and the console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_gradient.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures"
TF = FIXTURES / "terraform"
RECS = FIXTURES / "recommendations"
STATE = str(TF / "state_show.json")
REVERTS = str(TF / "plan_reverts_gradient.json")
IGNORES = str(TF / "plan_ignores_gradient.json")
CONFIG = str(TF / "two_clusters.tf")
JOB = "databricks_job.two_clusters"
HEAVY = "job_cluster[1].new_cluster[0]"
CONSOLE_SCRIPT = Path(sys.executable).parent / "airflow-gradient"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["terraform", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_ignore_changes_prints_a_pasteable_block(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "ignore-changes", "--state", STATE, "--address", JOB)
    assert (status, err) == (0, "")
    assert out.startswith("lifecycle {\n")
    assert out.endswith("  ]\n}\n")
    assert f"    {HEAVY}.num_workers,\n    {HEAVY}.autoscale,\n" in out
    assert f'    {HEAVY}.custom_tags["sync:recommendation-id"],\n' in out
    assert "job_cluster[0]" not in out
    assert (
        "# Gradient-managed attributes of databricks_job.two_clusters (job_clusters/heavy)" in out
    )


def test_ignore_changes_from_a_plan_with_cluster_keys(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys,
        "ignore-changes",
        "--plan",
        REVERTS,
        "--cluster-key",
        "light",
        "--cluster-key",
        "heavy",
    )
    assert status == 0
    assert out.index("job_cluster[0].new_cluster[0].num_workers") < out.index(
        f"{HEAVY}.num_workers"
    )


def test_ignore_changes_with_a_recommendation(capsys: pytest.CaptureFixture[str]) -> None:
    rec = str(RECS / "aws_autoscale_success.json")
    status, out, err = run(capsys, "ignore-changes", "--state", STATE, "--recommendation", rec)
    assert status == 0
    assert f"{HEAVY}.autoscale," in out
    assert f"{HEAVY}.num_workers," in out
    assert "spark_version" not in out
    assert "shuffle" not in out
    assert "only those aws_autoscale_success.json sets, plus the sizing pair" in out
    assert 'also sets spark_conf["spark.sql.shuffle.partitions"]' in err


def test_check_fails_on_a_plan_that_reverts_gradient(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", "--plan", REVERTS)
    assert status == 1
    assert out.startswith(f"FAIL: {REVERTS}: the next apply reverts 12 Gradient-managed path(s)")
    assert f'  {HEAVY}.node_type_id: "m5.xlarge" -> "i3.2xlarge"' in out
    assert '(changed outside Terraform: "i3.2xlarge" -> "m5.xlarge")' in out
    assert f'{HEAVY}.custom_tags["sync:run-id"]' in out


def test_check_passes_on_a_plan_that_ignores_gradient(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", "--plan", IGNORES)
    assert status == 0
    assert out.startswith("OK:")


@pytest.mark.parametrize(("plan", "expected", "count"), [(REVERTS, 1, 12), (IGNORES, 0, 0)])
def test_check_json(
    capsys: pytest.CaptureFixture[str], plan: str, expected: int, count: int
) -> None:
    status, out, _ = run(capsys, "check", "--plan", plan, "--format", "json")
    reverted = json.loads(out)
    assert (status, len(reverted)) == (expected, count)
    if reverted:
        assert set(reverted[0]) == {"address", "cluster", "path", "current", "planned", "drift"}
        assert {r["cluster"] for r in reverted} == {"job_clusters/heavy"}


def test_check_config_reports_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check-config", CONFIG)
    assert status == 1
    assert f"{JOB}: missing: {HEAVY}.autoscale (job_clusters/heavy) is not ignored" in out
    assert f"missing: {HEAVY}.num_workers " not in out
    assert out.splitlines()[-1].startswith(f"FAIL: {CONFIG}: 16 managed path(s) not ignored, 0 ")


def test_check_config_json_with_state(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check-config", CONFIG, "--state", STATE, "--format", "json")
    findings = json.loads(out)
    assert status == 1
    assert {f["kind"] for f in findings} == {"missing"}
    assert len(findings) == 16


def test_check_config_passes_with_the_generated_block(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, block, _ = run(capsys, "ignore-changes", "--state", STATE)
    text = Path(CONFIG).read_text()
    start = text.index("  lifecycle {")
    end = text.index("}\n", text.index("]", start)) + 2
    fixed = tmp_path / "fixed.tf"
    fixed.write_text(text[:start] + block + text[end:])
    status, out, _ = run(capsys, "check-config", str(fixed), "--state", STATE)
    assert status == 0, out
    assert out.startswith("OK:")


# --- bad input: one line naming the file, exit 2, never a traceback ------------------------


def bad_inputs(tmp: Path) -> list[tuple[list[str], str, str]]:
    """(argv, file named in the error, problem) for every bad-input case."""
    not_json = tmp / "plan.txt"
    not_json.write_text("Terraform will perform the following actions:\n")
    binary = tmp / "tfplan"
    binary.write_bytes(b"PK\x03\x04\x14\x00binary plan")
    latin = tmp / "latin.json"
    latin.write_bytes(b"\xff\xfe{}")
    not_plan = tmp / "other.json"
    not_plan.write_text('{"hello": "world"}')
    raw_state = tmp / "terraform.tfstate"
    raw_state.write_text('{"version": 4, "resources": []}')
    bad_tf = tmp / "broken.tf"
    bad_tf.write_text('resource "databricks_job" "x" {\n  name = \n}\n')
    missing = str(tmp / "missing.json")
    directory = str(tmp)
    pending = str(RECS / "pending.json")
    error_reply = str(RECS / "error_not_found.json")
    return [
        (["check", "--plan", missing], missing, "no such file"),
        (["check", "--plan", directory], directory, "is a directory"),
        (["check", "--plan", str(not_json)], str(not_json), "not JSON (line 1, column 1"),
        (["check", "--plan", str(binary)], str(binary), "a binary plan file"),
        (["check", "--plan", str(latin)], str(latin), "not UTF-8 text"),
        (["check", "--plan", STATE], STATE, "a Terraform state, not a plan"),
        (["check", "--plan", str(not_plan)], str(not_plan), "not a Terraform plan or state"),
        (["check", "--plan", str(raw_state)], str(raw_state), "a raw terraform.tfstate file"),
        (["ignore-changes", "--plan", STATE], STATE, "a Terraform state, not a plan"),
        (["ignore-changes", "--state", REVERTS], REVERTS, "a Terraform plan, not a state"),
        (
            ["ignore-changes", "--plan", REVERTS, "--address", "databricks_job.nope"],
            REVERTS,
            "no resource databricks_job.nope",
        ),
        (
            [
                "ignore-changes",
                "--plan",
                REVERTS,
                "--address",
                "databricks_notification_destination.gradient",
            ],
            REVERTS,
            "not a databricks_job or databricks_cluster",
        ),
        (
            ["ignore-changes", "--state", STATE, "--cluster-key", "medium"],
            STATE,
            "has no cluster key 'medium'",
        ),
        (["ignore-changes", "--state", STATE, "--recommendation", pending], pending, "is PENDING"),
        (
            ["ignore-changes", "--state", STATE, "--recommendation", error_reply],
            error_reply,
            "a Gradient error reply (Project Not Found",
        ),
        (
            ["ignore-changes", "--state", STATE, "--recommendation", missing],
            missing,
            "no such file",
        ),
        (["check-config", str(bad_tf)], str(bad_tf), "HCL syntax error at line 2, column"),
        (["check-config", missing], missing, "no such file"),
        (["check-config", CONFIG, "--state", str(not_plan)], str(not_plan), "not a Terraform plan"),
        (["check-config", CONFIG, "--state", str(not_json)], str(not_json), "not JSON"),
    ]


def test_every_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for argv, path, problem in bad_inputs(tmp_path):
        status, out, err = run(capsys, *argv)
        assert status == 2, argv
        assert out == "", argv
        assert err.count("\n") == 1, err
        assert err.startswith(f"error: {path}: "), err
        assert problem in err, err
        assert "Traceback" not in err


# --- the installed console script ----------------------------------------------------------


def script(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CONSOLE_SCRIPT), "terraform", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_console_script_check_exit_codes(tmp_path: Path) -> None:
    reverts = script("check", "--plan", REVERTS)
    assert reverts.returncode == 1, reverts.stderr
    assert f"{HEAVY}.spark_version" in reverts.stdout
    assert script("check", "--plan", IGNORES).returncode == 0


def test_console_script_bad_input(tmp_path: Path) -> None:
    bad_tf = tmp_path / "broken.tf"
    bad_tf.write_text('resource "databricks_job" "x" {')
    result = script("check-config", str(bad_tf))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {bad_tf}: HCL syntax error at line 1")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_console_script_ignore_changes() -> None:
    result = script("ignore-changes", "--plan", IGNORES, "--address", JOB)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(f"    {HEAVY}.") == 17


def test_check_config_without_python_hcl2_says_what_to_install() -> None:
    """python-hcl2 is the optional extra ``terraform``: hide it as an install without it would."""
    script = (
        "import sys; sys.modules['hcl2'] = None\n"
        "from airflow_gradient.cli import main\n"
        f"sys.exit(main(['terraform', 'check-config', {CONFIG!r}]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "python-hcl2, which is not installed" in proc.stderr
    assert "pip install 'airflow-gradient[terraform]'" in proc.stderr
