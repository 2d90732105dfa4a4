"""sam_backend against the private emulator: check on empty, apply, idempotence, outputs and config.json."""

from __future__ import annotations

import json
import re
import subprocess
import threading

import pytest

from tests.conftest import ROOT, ansible_env, changed, reset_moto, run_playbook

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
OUTPUTS = {"ApiUrl", "TableName", "CounterFunctionName", "ContactFunctionName"}


@pytest.fixture(scope="module")
def converged(moto_url, tmp_path_factory):
    reset_moto(moto_url)
    config = tmp_path_factory.mktemp("site") / "config.json"
    build = tmp_path_factory.mktemp("build")
    outputs = {"config": config}
    for step, args in (("check_empty", ["--check"]), ("apply", []), ("again", []), ("check_converged", ["--check"])):
        proc = run_playbook(
            moto_url,
            "playbooks/backend.yml",
            "-e",
            f"site_config_json={config}",
            "-e",
            f"sam_backend_build_dir={build}",
            *args,
        )
        assert proc.returncode == 0, f"{step} failed:\n{(proc.stdout + proc.stderr)[-4000:]}"
        outputs[step] = proc.stdout
        if step == "check_empty":
            assert not config.exists() or json.loads(config.read_text())  # check mode writes nothing real
    return outputs


def test_check_on_empty_then_apply_then_no_change(converged):
    assert changed(converged["check_empty"]) > 0
    assert changed(converged["apply"]) > 0
    assert changed(converged["again"]) == 0, converged["again"][-3000:]
    assert changed(converged["check_converged"]) == 0, converged["check_converged"][-3000:]


def test_prod_and_test_stacks_have_their_outputs(converged, aws_client):
    cfn = aws_client("cloudformation")
    stacks = {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}
    assert set(stacks) == {"cloudsite-backend-prod", "cloudsite-backend-test"}
    for stage in ("prod", "test"):
        stack = stacks[f"cloudsite-backend-{stage}"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert OUTPUTS <= set(outputs)
        assert outputs["ApiUrl"].endswith(f"/{stage}")
        params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        assert params["Stage"] == stage and params["SenderEmail"] == "noreply@example.com"
        assert {t["Key"]: t["Value"] for t in stack["Tags"]}["stage"] == stage


def test_artifacts_are_content_addressed_and_private(converged, aws_client):
    s3 = aws_client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cloudsite-local-artifacts")["Contents"]]
    assert len(keys) == 2
    assert all(re.fullmatch(r"backend/[0-9a-f]{64}\.zip", k) for k in keys)
    block = s3.get_public_access_block(Bucket="cloudsite-local-artifacts")["PublicAccessBlockConfiguration"]
    assert all(block.values())


def test_sender_is_an_ses_identity(converged, aws_client):
    assert "noreply@example.com" in aws_client("ses").list_identities()["Identities"]


def test_backend_stage_reports_ses_readiness(converged, aws_client):
    # moto's account is in the sandbox (Max24HourSend 200): the stage verifies the recipient too and says so.
    assert aws_client("ses").get_send_quota()["Max24HourSend"] == 200.0
    assert "owner@example.com" in aws_client("ses").list_identities()["Identities"]
    apply, check_empty = (" ".join(converged[step].split()) for step in ("apply", "check_empty"))
    report = "SES: sender noreply@example.com Success; sandbox (200 mails/24 h, verified recipients only);"
    assert f"{report} recipient owner@example.com Success -> contact form can deliver" in apply, apply[-3000:]
    # Check mode on an empty account: nothing verified yet, and the report says what to do.
    assert "contact form cannot deliver yet: verify the sender noreply@example.com" in check_empty


def test_config_json_holds_the_api_url(converged):
    # The local inventory points the site at the local API (sam_backend_api_base_url).
    assert json.loads(converged["config"].read_text()) == {"apiBaseUrl": "http://127.0.0.1:3001/prod"}


def test_config_json_defaults_to_the_prod_api_url_output(converged, moto_url, aws_client, tmp_path):
    config = tmp_path / "config.json"
    proc = run_playbook(
        moto_url,
        "playbooks/backend.yml",
        "-e",
        f"site_config_json={config}",
        "-e",
        "sam_backend_api_base_url=''",
        "-e",
        f"sam_backend_build_dir={tmp_path / 'build'}",
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    stack = aws_client("cloudformation").describe_stacks(StackName="cloudsite-backend-prod")["Stacks"][0]
    api_url = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "ApiUrl")
    assert json.loads(config.read_text()) == {"apiBaseUrl": api_url}


def test_old_artifacts_expire(converged, aws_client):
    (rule,) = aws_client("s3").get_bucket_lifecycle_configuration(Bucket="cloudsite-local-artifacts")["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["Filter"] == {"Prefix": "backend/"}
    assert rule["Expiration"] == {"Days": 90}


def test_drift_reports_sam_stack_drift_by_resource_and_property(converged, moto_url, aws_client, tmp_path):
    """Issue 17: `make drift` reads the SAM stacks through CloudFormation drift detection (gap 26 patch):
    a Lambda environment variable changed and one added, its memory changed, each named by stack
    resource and property with the deployed and declared value. (check_converged above ran the same
    detection on the converged stacks: nothing changed.)"""
    lam = aws_client("lambda")
    stack = aws_client("cloudformation").describe_stacks(StackName="cloudsite-backend-prod")["Stacks"][0]
    name = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "CounterFunctionName")
    resources = aws_client("cloudformation").describe_stack_resources(StackName="cloudsite-backend-prod")
    fn = next(r["LogicalResourceId"] for r in resources["StackResources"] if r.get("PhysicalResourceId") == name)
    before = lam.get_function_configuration(FunctionName=name)
    variables = before["Environment"]["Variables"]
    edited = dict(variables, TABLE_NAME="console-table", DEBUG="1")
    assert "TABLE_NAME" in variables, variables
    lam.update_function_configuration(FunctionName=name, MemorySize=512, Environment={"Variables": edited})
    try:
        env = ansible_env(moto_url)
        env["DRIFT_REPORT"] = str(tmp_path / "drift.json")
        proc = subprocess.run(
            [
                str(ROOT / ".venv/bin/python"),
                "drift/run.py",
                "playbooks/backend.yml",
                "-e",
                f"site_config_json={converged['config']}",
                "-e",
                f"sam_backend_build_dir={tmp_path / 'build'}",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 2, (proc.stdout + proc.stderr)[-4000:]
        report = json.loads((tmp_path / "drift.json").read_text())
        drifted = [e for e in report["resources"] if e["status"] != "IN_SYNC"]
        assert [(e["module"], e["resource"]) for e in drifted] == [
            ("cloudsite.aws.cloudformation_drift", "sam_backend : Detect the drift of the stack of stage prod")
        ], drifted
        changes = {c["attribute"]: (c["deployed"], c["declared"]) for c in drifted[0]["attributes"]}
        assert changes == {
            f"{fn}/Environment/Variables/DEBUG": ("1", None),
            f"{fn}/Environment/Variables/TABLE_NAME": ("console-table", variables["TABLE_NAME"]),
            f"{fn}/MemorySize": ("512", str(before["MemorySize"])),
        }
        assert f'{fn}/MemorySize: deployed="512"' in proc.stdout
    finally:
        lam.update_function_configuration(
            FunctionName=name, MemorySize=before["MemorySize"], Environment={"Variables": variables}
        )


def test_doctor_preflights_cors_from_each_site_name(converged, moto_url):
    """doctor's CORS line against the deployed backend, served by the local API (in-process, free port)."""
    from local import local_api
    from tests.integration.test_doctor import doctor

    server = local_api.make_server(0, moto_url, project="cloudsite")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = f"sam_backend_api_base_url=http://127.0.0.1:{server.server_address[1]}/prod"
        _, out = doctor(moto_url, "-e", api)
        for route in ("contact", "count"):
            assert f"OK cors http://127.0.0.1:8180 may call /{route} (preflight 204)" in out, out[-4000:]
        assert "FAIL cors" not in out, out[-4000:]
        # A site name the stack's AllowedOrigin lacks (as when the cdn stage added a name and the backend
        # stage did not run since) is refused, and the line names it.
        extra = json.dumps({"sam_backend_extra_origins": ["http://127.0.0.1:8180", "https://www.extra.example"]})
        rc, out = doctor(moto_url, "-e", api, "-e", extra)
        assert rc != 0
        assert "FAIL cors https://www.extra.example is refused by /contact" in out, out[-4000:]
        assert "FAIL cors https://www.extra.example is refused by /count" in out, out[-4000:]
    finally:
        server.shutdown()
        server.server_close()
