"""Signed checkpoints of the audit chains: what the chain alone cannot show (an event rewritten
with every later hash recomputed, the head rolled back with the tail) shows against a checkpoint
taken before, and a checkpoint edited by hand or signed with another key is not trusted."""

import json
import stat

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from careway.core import audit
from careway.core.models import AuditChain, AuditEvent
from tests.security.probe import delete_chain, drop_audit_triggers, rewrite_event, roll_back_chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(tmp_path):
    """A key pair made by the command operators run, and the file checkpoints go to."""
    private = tmp_path / "keys" / "checkpoint.key"
    private.parent.mkdir()
    call_command("audit", "keygen", str(private))
    return private, private.with_name("checkpoint.key.pub"), tmp_path / "checkpoints.jsonl"


def look(world, times):
    actor = audit.Actor(user=world.cm, client_address="10.0.0.7")
    for n in range(times):
        audit.record(actor, "patient.view", patient_id=world.patient.pk, reason=f"look {n}")


def checkpoint(keys):
    private, _, file = keys
    call_command("audit", "checkpoint", "--file", str(file), "--key", str(private))


def verify(keys, capsys) -> tuple[int, str]:
    """Run `careway audit verify --checkpoints` with the public key alone; (exit code, output)."""
    _, public, file = keys
    try:
        call_command("audit", "verify", "--checkpoints", str(file), "--public-key", str(public))
    except CommandError as failed:
        out = capsys.readouterr()
        return failed.returncode, out.out + out.err
    return 0, capsys.readouterr().out


def head_seq(chain_id):
    return AuditChain.objects.get(chain_id=chain_id).last_seq


def test_keygen_keeps_the_private_key_to_its_owner_and_never_overwrites(keys):
    private, public, _ = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PUBLIC KEY" in public.read_bytes()
    with pytest.raises(CommandError, match="exists"):
        call_command("audit", "keygen", str(private))


def test_an_untouched_trail_matches_its_checkpoint(world, keys, capsys):
    look(world, 3)
    checkpoint(keys)
    look(world, 2)
    line = json.loads(keys[2].read_text())
    assert [world.org.pk, head_seq(world.org.pk) - 2] in [c[:2] for c in line["chains"]]
    code, out = verify(keys, capsys)
    assert code == 0, out
    assert "Compared with the checkpoint of" in out and "audit chain intact" in out


def test_a_rewrite_with_every_later_hash_recomputed_is_caught_by_an_earlier_checkpoint(
    world, keys, capsys
):
    look(world, 6)
    checkpoint(keys)
    checkpointed = head_seq(world.org.pk)
    look(world, 2)
    drop_audit_triggers()
    rewrite_event(world.org.pk, checkpointed - 3, "nothing to see here")
    # The chain alone links up again: this is the gap the checkpoint closes.
    assert audit.verify_all()[1] == []
    code, out = verify(keys, capsys)
    assert code == 1
    assert f"chain {world.org.pk}, event {checkpointed}: event {checkpointed} differs from" in out


def test_rolling_the_head_back_with_the_tail_is_caught(world, keys, capsys):
    look(world, 4)
    checkpoint(keys)
    checkpointed = head_seq(world.org.pk)
    drop_audit_triggers()
    roll_back_chain(world.org.pk, checkpointed - 2)
    assert audit.verify_all()[1] == []
    code, out = verify(keys, capsys)
    assert code == 1
    assert f"chain {world.org.pk}, event {checkpointed}: the chain is shorter than" in out


def test_a_chain_deleted_whole_is_reported_with_or_without_a_checkpoint(world, keys, capsys):
    checkpoint(keys)
    drop_audit_triggers()
    delete_chain(world.other_org.pk)
    code, out = verify(keys, capsys)
    assert code == 1
    assert f"chain {world.other_org.pk}: the agency's chain is missing" in out
    assert f"chain {world.other_org.pk}: the chain is gone; the checkpoint of" in out


def test_a_checkpoint_edited_by_hand_fails_its_signature(world, keys, capsys):
    look(world, 4)
    checkpoint(keys)
    drop_audit_triggers()
    roll_back_chain(world.org.pk, head_seq(world.org.pk) - 2)
    # The owner moves the checkpoint back to match; the signature no longer holds.
    file = keys[2]
    line = json.loads(file.read_text())
    line["chains"] = [
        [c, head_seq(c), AuditChain.objects.get(chain_id=c).last_hash] for c, _, _ in line["chains"]
    ]
    file.write_text(json.dumps(line) + "\n")
    code, out = verify(keys, capsys)
    assert code == 1
    assert "checkpoint line 1: the signature does not hold (edited)" in out
    assert "no checkpoint signed with this key" in out


def test_a_checkpoint_signed_with_another_key_is_not_trusted(world, keys, tmp_path, capsys):
    forged_key = tmp_path / "forged.key"
    call_command("audit", "keygen", str(forged_key))
    call_command("audit", "checkpoint", "--file", str(keys[2]), "--key", str(forged_key))
    code, out = verify(keys, capsys)
    assert code == 1
    assert "checkpoint line 1: signed with another key" in out


def test_the_latest_good_checkpoint_is_the_one_compared(world, keys, capsys):
    look(world, 2)
    checkpoint(keys)
    look(world, 2)
    checkpoint(keys)
    drop_audit_triggers()
    roll_back_chain(world.org.pk, head_seq(world.org.pk) - 1)
    code, out = verify(keys, capsys)
    assert code == 1
    assert "line 2 of" in out and "the chain is shorter than" in out


def test_events_after_the_latest_checkpoint_are_not_covered(world, keys, capsys):
    """The gap that remains: take checkpoints often (docs/operations.md)."""
    checkpoint(keys)
    look(world, 3)
    drop_audit_triggers()
    rewrite_event(world.org.pk, head_seq(world.org.pk) - 1, "rewritten after the checkpoint")
    assert verify(keys, capsys)[0] == 0


def test_checkpoint_and_verify_read_their_paths_from_the_environment(world, keys, settings, capsys):
    private, _, file = keys
    settings.CAREWAY_AUDIT_CHECKPOINT_KEY = str(private)
    settings.CAREWAY_AUDIT_CHECKPOINTS = str(file)
    call_command("audit", "checkpoint")
    call_command("audit", "verify", "--checkpoints", str(file))
    assert "audit chain intact" in capsys.readouterr().out


def test_a_missing_key_or_file_is_named(world, keys, tmp_path):
    with pytest.raises(CommandError, match="Give --key"):
        call_command("audit", "checkpoint", "--file", str(keys[2]))
    with pytest.raises(CommandError, match="cannot read the key"):
        call_command("audit", "checkpoint", "--file", str(keys[2]), "--key", "/nonexistent.key")
    with pytest.raises(CommandError, match="No such file"):
        call_command(
            "audit", "verify", "--checkpoints", str(tmp_path / "none"), "--public-key", str(keys[1])
        )


def test_an_agency_whose_chain_was_deleted_cannot_start_a_new_one(world):
    drop_audit_triggers()
    delete_chain(world.other_org.pk)
    # Appending would start again at event 1 and hide the deletion: the action is refused.
    with pytest.raises(audit.ChainHeadMissing), transaction.atomic():
        audit.record(audit.Actor(user=world.outsider), "auth.login")
    assert not AuditEvent.objects.filter(chain_id=world.other_org.pk).exists()
    assert [b.chain_id for b in audit.verify_all()[1]] == [world.other_org.pk]
