"""`apply --plan` with a plan file it cannot use: one line, exit 1, before any engine is asked.
(Saved plans on the real engine: tests/engine/test_ci_workflow.py.)"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from deployer.cli import main


OPTIONS = {"secrets_dir": None, "prune": False, "allow_empty": False, "max_removals": None, "adopt": [],
           "refresh": False}


def plan_file(path, **fields):
    document = {"kind": "deployer-plan", "format_version": "2", "fleet": "demo", "relative_to": "repository",
                "paths": ["manifests"], "options": OPTIONS, "manifests": {}, "state": {}, "plan": {}, **fields}
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


@pytest.mark.parametrize("fields, damage", [
    ({"options": {k: v for k, v in OPTIONS.items() if k != "secrets_dir"}}, "options.secrets_dir is missing"),
    ({"paths": "abc"}, 'paths is "abc", not a list of paths'),
    ({"options": {**OPTIONS, "adopt": "bot-a"}}, 'options.adopt is "bot-a", not a list of bot names'),
    ({"options": {**OPTIONS, "max_removals": True}}, "options.max_removals is true, not a whole number or null"),
    ({"state": []}, "state is [], not a mapping of bot to fingerprint"),
    ({"relative_to": "cwd"}, "relative_to is \"cwd\", not 'repository' or null"),
])
def test_a_damaged_plan_file_is_one_line_not_a_traceback(tmp_path, monkeypatch, fields, damage):
    """Review of issue 24: `options` without secrets_dir ended in a KeyError traceback; `"paths": "abc"`
    was read as the manifests a, b and c."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bots.yaml").write_text("")
    path = plan_file(tmp_path / "plan.json", **{"relative_to": None, "paths": [str(tmp_path / "bots.yaml")], **fields})
    result = CliRunner().invoke(main, ["apply", "--plan", path])
    assert result.exit_code == 1, result.output
    assert result.output == f"error: plan file {path} is incomplete or damaged: {damage}; make the plan again\n"
