"""`apply --plan` with a plan file it cannot use: one line, exit 1, before any engine is asked.
(Saved plans on the real engine: tests/engine/test_ci_workflow.py.)"""

from __future__ import annotations

import json

from click.testing import CliRunner

from deployer.cli import main


def plan_file(path, **fields):
    document = {"kind": "deployer-plan", "format_version": "2", "fleet": "demo", "relative_to": "repository",
                "paths": ["manifests"], "options": {}, "manifests": {}, "state": {}, "plan": {}, **fields}
    path.write_text(json.dumps(document))
    return str(path)


def test_a_plan_relative_to_a_checkout_outside_any_checkout_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # pytest's tmp_path is in no git checkout
    result = CliRunner().invoke(main, ["apply", "--plan", plan_file(tmp_path / "plan.json")])
    assert result.exit_code == 1
    assert result.output == (
        f"error: plan file {tmp_path}/plan.json names its manifests relative to the root of their git checkout "
        "(manifests); run apply --plan inside a checkout of that repository\n")


def test_a_plan_file_of_the_previous_format_is_refused(tmp_path, monkeypatch):
    """Format 1 stored paths relative to where `plan` ran; its paths cannot be resolved elsewhere."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["apply", "--plan", plan_file(tmp_path / "plan.json", format_version="1")])
    assert result.exit_code == 1
    assert result.output == (f"error: plan file {tmp_path}/plan.json has format_version '1'; this deployer "
                             "reads '2': make the plan again\n")
