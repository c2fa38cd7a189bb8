"""Issue "Rollouts that stay safe at scale", part 3, on the real engine: every apply that
changes something leaves a history entry (revision, who, result, per bot spec hash and the
image ID it ran); rollback puts an entry back with its image IDs pinned, even when the tag has
moved since, and the next plan of the manifests shows the way forward again."""

from __future__ import annotations

import json

from tests.support.engine_harness import STAND_IN_IMAGE, STAND_IN_IMAGE_V2
from tests.support.fleetkit import (  # noqa: F401 - cleanup_markers is an autouse fixture
    FAST,
    Manifests,
    assert_clean,
    bot,
    cleanup_markers,
    env_of,
    get_container,
    run_cli,
    run_cli_streams,
    temp_tag,
    write_secret,
)


def history(fleet: str, *extra: str) -> dict:
    code, out, _ = run_cli_streams("history", fleet, "--format", "json", *extra)
    assert code == 0, out
    return json.loads(out)


def apply_rev(m: Manifests, revision: str) -> str:
    code, out = run_cli("apply", "--yes", *FAST, "--revision", revision, m.path)
    assert code == 0, out
    return out


def test_history_records_three_applies_and_rollback_pins_the_image_id(tmp_path, fleet_name, secrets_dir,
                                                                      docker_client, stand_in_image,
                                                                      stand_in_image_v2):
    img1 = docker_client.images.get(STAND_IN_IMAGE).id
    img2 = docker_client.images.get(STAND_IN_IMAGE_V2).id
    assert img1 != img2
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    for short in ("a", "b"):
        write_secret(secrets_dir, m.name(short), "TELEGRAM_BOT_TOKEN", f"token-{short}-1")

    with temp_tag(docker_client, STAND_IN_IMAGE, "deployer-test/rollouts", fleet_name) as moving:
        # 1: the moving tag on image 1, V=1
        m.write({s: bot(image=moving, env={"V": "1"}, secrets=["TELEGRAM_BOT_TOKEN"]) for s in ("a", "b")})
        apply_rev(m, "aaaa1111")
        # 2: another image, V=2
        m.write({s: bot(image=STAND_IN_IMAGE_V2, env={"V": "2"}, secrets=["TELEGRAM_BOT_TOKEN"]) for s in ("a", "b")})
        apply_rev(m, "bbbb2222")
        # 3: the tag moves to image 2; back to it, V=3
        assert docker_client.images.get(STAND_IN_IMAGE_V2).tag("deployer-test/rollouts", fleet_name)
        m.write({s: bot(image=moving, env={"V": "3"}, secrets=["TELEGRAM_BOT_TOKEN"]) for s in ("a", "b")})
        apply_rev(m, "cccc3333")
        code, out = run_cli("apply", "--yes", *FAST, "--revision", "cccc3333", m.path)
        assert code == 0 and "No changes." in out, out  # a no-change apply adds no entry

        doc = history(fleet_name)
        entries = doc["entries"]
        assert [e["entry"] for e in entries] == [3, 2, 1], entries  # newest first, stable numbers
        assert [e["revision"] for e in entries] == ["cccc3333", "bbbb2222", "aaaa1111"]
        assert all(e["kind"] == "apply" and e["result"] == "2 succeeded, 0 failed" for e in entries), entries
        want_ids = {3: img2, 2: img2, 1: img1}
        for e in entries:
            assert sorted(e["bots"]) == [m.name("a"), m.name("b")], e
            for row in e["bots"].values():
                assert row["image_id"] == want_ids[e["entry"]], (e["entry"], row)
                assert row["spec_hash"].startswith("v1-") and row["state"] == "running"
        assert len({e["bots"][m.name("a")]["spec_hash"] for e in entries}) == 3
        assert history(fleet_name, "--limit", "1")["entries"][0]["entry"] == 3

        code, text = run_cli("history", fleet_name)
        assert code == 0, text
        assert "#1 " in text and "revision aaaa1111" in text and f"created 2: {m.name('a')}, {m.name('b')}" in text
        assert img1.split(":")[1][:12] not in text, text  # per-bot rows only on request (issue 24)
        code, text = run_cli("history", fleet_name, "--entry", "1")
        assert code == 0 and "revision aaaa1111" in text and img1.split(":")[1][:12] in text, text
        assert "#2 " not in text, text

        # a secret rotates after entry 1: rollback keeps today's file (and says so)
        write_secret(secrets_dir, m.name("a"), "TELEGRAM_BOT_TOKEN", "token-a-2")

        code, out = run_cli("rollback", fleet_name, "--to", "bbbb", "--dry-run")
        assert code == 0, out
        assert "history entry #2" in out and "revision bbbb2222" in out, out

        code, out = run_cli("rollback", fleet_name, "--to", "1", "--yes", *FAST)
        assert code == 0, out
        assert f"Rollback of fleet {fleet_name} to history entry #1: revision aaaa1111" in out, out
        assert "rotated secrets are not rolled back" in out, out
        assert "rolls this forward again, unless the manifests are reverted in git" in out, out
        assert "Apply finished: 2 succeeded, 0 failed." in out, out
        for short in ("a", "b"):
            c = get_container(docker_client, m.cname(short))
            assert c.status == "running"
            assert env_of(c)["V"] == "1", env_of(c)
            assert c.image.id == img1, (c.image.id, img1)  # the ID entry 1 ran, not where the tag points
            assert c.labels["botmaker.revision"] == "aaaa1111"
        assert docker_client.images.get(moving).id == img2  # the tag did move

        entries = history(fleet_name)["entries"]
        assert entries[0]["entry"] == 4 and entries[0]["kind"] == "rollback" and entries[0]["rollback_to"] == 1
        assert entries[0]["result"].startswith("rollback to #1: "), entries[0]
        assert {row["image_id"] for row in entries[0]["bots"].values()} == {img1}
        code, out = run_cli("status", m.path)
        assert code == 0 and "rollback to #1" in out, out

        # rolled back twice is no change
        code, out = run_cli("rollback", fleet_name, "--to", "1", "--yes", *FAST)
        assert code == 0 and "No changes." in out, out

        # the way forward: the current manifests plan a replace back to V=3 on the moved tag
        code, out = run_cli("plan", "--format", "json", m.path)
        assert code == 0, out
        actions = {a["bot"]: a for a in json.loads(out)["actions"]}
        for short in ("a", "b"):
            a = actions[m.name(short)]
            assert a["action"] == "replace", a
            fields = {c["field"]: (c["before"], c["after"]) for c in a["changes"]}
            assert fields["env"] == ({"V": "1"}, {"V": "3"}), fields
            assert fields["image"] == (img1, moving), fields
        code, out = run_cli("apply", "--yes", *FAST, "--revision", "cccc3333", m.path)
        assert code == 0, out
        assert f"Note: fleet {fleet_name} runs a rollback to #1 (applied " in out, out
        assert "this apply rolls it forward to the manifests" in out, out
        assert env_of(get_container(docker_client, m.cname("a")))["V"] == "3"
        assert get_container(docker_client, m.cname("a")).image.id == img2


def test_rollback_refusals(tmp_path, fleet_name, docker_client):
    code, out = run_cli("rollback", fleet_name, "--to", "1", "--yes")
    assert code == 1 and "no history entry #1 (kept: none)" in out, out
    m = Manifests(tmp_path, fleet_name, None)
    m.write({"a": bot()})
    apply_rev(m, "dddd4444")
    code, out = run_cli("rollback", fleet_name, "--to", "7", "--yes")
    assert code == 1 and "no history entry #7 (kept: #1)" in out, out
    code, out = run_cli("rollback", fleet_name, "--to", "eeee", "--yes")
    assert code == 1 and "no history entry has revision eeee" in out, out
    code, out = run_cli("rollback", fleet_name, "--to", "1")  # no terminal, no --yes
    assert code == 1 and "pass --yes" in out, out
    code, out = run_cli("history", "Not_A_Fleet")
    assert code == 1 and "is not a fleet name" in out, out
    assert "Traceback" not in out


def limits_of(docker_client, name: str) -> tuple[int, int]:
    c = get_container(docker_client, name)
    return c.attrs["HostConfig"]["Memory"], c.attrs["HostConfig"]["NanoCpus"]


def test_an_in_place_update_is_recorded_and_rolled_back_to(tmp_path, fleet_name, secrets_dir, docker_client):
    """Issue 24, defect 3: an entry records what the engine runs after the apply, in-place updates
    included (the container's spec label cannot change in place, so it is not what is recorded)."""
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    apply_rev(m, "aaaa1111")  # 1: no limits
    m.write({"a": bot(resources={"memory": "64m", "cpus": 0.5})})
    out = apply_rev(m, "bbbb2222")  # 2: the limits, in place
    assert "updated in place" in out, out
    created = get_container(docker_client, m.cname("a")).id
    assert limits_of(docker_client, m.cname("a")) == (64 << 20, 500_000_000)
    m.write({"a": bot(resources={"memory": "64m", "cpus": 0.5}), "b": bot()})
    apply_rev(m, "cccc3333")  # 3: another bot; a is unchanged and still runs its limits

    entries = {e["entry"]: e for e in history(fleet_name)["entries"]}
    a = m.name("a")
    assert entries[2]["bots"][a]["spec_hash"] != entries[1]["bots"][a]["spec_hash"], entries
    assert entries[3]["bots"][a]["spec_hash"] == entries[2]["bots"][a]["spec_hash"], entries

    # what runs now: nothing to do (was: "memory limit removed", a replace)
    code, out = run_cli("rollback", fleet_name, "--to", "3", "--yes", *FAST)
    assert code == 0 and "No changes." in out, out
    code, out = run_cli("rollback", fleet_name, "--to", "2", "--dry-run")  # b is not in entry 2: an orphan
    assert code == 0 and "memory" not in out and f"bot {a} " not in out, out
    assert get_container(docker_client, m.cname("a")).id == created
    assert limits_of(docker_client, m.cname("a")) == (64 << 20, 500_000_000)

    code, out = run_cli("rollback", fleet_name, "--to", "1", "--yes", *FAST, "--prune")
    assert code == 0, out
    assert "memory limit removed" in out, out
    assert limits_of(docker_client, m.cname("a")) == (0, 0)
    assert get_container(docker_client, m.cname("a")).labels["botmaker.revision"] == "aaaa1111"

    code, out = run_cli("rollback", fleet_name, "--to", "2", "--yes", *FAST, "--prune")
    assert code == 0 and "Apply finished: 1 succeeded, 0 failed." in out, out
    assert limits_of(docker_client, m.cname("a")) == (64 << 20, 500_000_000)
    newest = history(fleet_name)["entries"][0]
    assert newest["rollback_to"] == 2 and newest["bots"][a]["spec_hash"] == entries[2]["bots"][a]["spec_hash"]


def test_rollback_to_the_entry_that_runs_now_changes_nothing(tmp_path, fleet_name, secrets_dir, docker_client):
    """Issue 24: rollback pins an image to its recorded ID only where the bot runs another image
    now; a rollback to what runs is no change, and the next apply of the manifests none either."""
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({s: bot(env={"V": "1"}) for s in ("a", "b")})
    apply_rev(m, "aaaa1111")
    ids = {s: get_container(docker_client, m.cname(s)).id for s in ("a", "b")}
    code, out = run_cli("rollback", fleet_name, "--to", "1", "--dry-run")
    assert code == 0 and "No changes." in out, out
    code, out = run_cli("rollback", fleet_name, "--to", "1", "--yes", *FAST)
    assert code == 0 and "No changes." in out, out
    assert "no image is pinned" in out, out
    assert {s: get_container(docker_client, m.cname(s)).id for s in ("a", "b")} == ids
    assert_clean(m)


def test_rollback_then_the_entrys_manifests_plan_no_change(tmp_path, fleet_name, secrets_dir, docker_client,
                                                           stand_in_image, stand_in_image_v2):
    """Review of issue 24: a bot that runs another image now keeps its tag when the tag still
    resolves to the image the entry recorded, so after `rollback --to 1` the manifests of entry 1
    (a git revert and a normal apply) plan no change. Was: the rolled-back bots ran the image ID
    pinned, and the plan replaced each one for `image: "sha256:…" -> "<tag>"`."""
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    one = {s: bot(image=STAND_IN_IMAGE, env={"V": "1"}) for s in ("a", "b", "c")}
    m.write(one)
    apply_rev(m, "aaaa1111")
    m.write({s: bot(image=STAND_IN_IMAGE_V2, env={"V": "2"}) for s in ("a", "b", "c")})
    apply_rev(m, "bbbb2222")

    code, out = run_cli("rollback", fleet_name, "--to", "1", "--yes", *FAST)
    assert code == 0 and "Apply finished: 3 succeeded, 0 failed." in out, out
    assert "no image is pinned" in out, out
    img1 = docker_client.images.get(STAND_IN_IMAGE).id
    for s in ("a", "b", "c"):
        c = get_container(docker_client, m.cname(s))
        assert c.image.id == img1 and env_of(c)["V"] == "1", (s, c.image.id)

    m.write(one)  # git revert: entry 1's manifests again
    code, out = run_cli("plan", m.path)
    assert code == 0 and "No changes." in out and "sha256:" not in out, out
    code, out = run_cli("apply", "--yes", *FAST, "--revision", "cccc3333", m.path)
    assert code == 0 and "No changes." in out, out
