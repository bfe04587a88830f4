"""Signed checkpoints of the audit chains, kept outside the database.

The hash chain shows an event edited or deleted in place, but an owner of the database can also
rewrite an event and recompute every later hash and the head, or delete the newest events and move
the head back with them: the chain is then consistent again. Certificate Transparency answers the
same problem with signed tree heads; this is that for a hash chain. A checkpoint records each
chain's length and head hash at one moment, signed with an Ed25519 key the database does not
hold, as one line of an append-only JSON-lines file that operators keep outside the database
(exported with each backup, or sent to a log). Compared with a checkpoint, a chain that is shorter
than it was, or whose event at the checkpointed number now has another hash, is a finding.

Ed25519 rather than an HMAC: verifying needs only the public key, so an auditor or a monitoring
host can check the file without being able to sign a forged one.

Not covered: events appended after the latest checkpoint can still be rewritten unnoticed, so take
checkpoints often (docs/operations.md).
"""

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.db.models import Q
from django.utils import timezone

from .audit import BrokenLink
from .models import AuditChain, AuditEvent

FORMAT = 1


class CheckpointKeyError(Exception):
    """The key file is missing, unreadable, or not an Ed25519 key."""


@dataclass(frozen=True)
class ChainHead:
    chain_id: int
    seq: int
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    taken_at: str
    key_id: str
    heads: tuple[ChainHead, ...]
    line_number: int = 0

    def payload(self) -> bytes:
        """The exact bytes that are signed: everything in the line but the signature."""
        fields = {
            "format": FORMAT,
            "taken_at": self.taken_at,
            "key_id": self.key_id,
            "chains": [[h.chain_id, h.seq, h.hash] for h in self.heads],
        }
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


# --- keys ------------------------------------------------------------------------------------


def new_key_files(private_path: Path) -> Path:
    """Write a new private key (readable by its owner only) and its public key beside it, as
    `<name>.pub`; refuse to overwrite either. Returns the public key's path."""
    public_path = private_path.with_name(private_path.name + ".pub")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(private_path, private_pem, 0o600)
    _write_new(public_path, public_pem, 0o644)
    return public_path


def _write_new(path: Path, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(_read_key(path), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointKeyError(f"{path} is not an Ed25519 private key")
    return key


def load_verifying_key(path: Path) -> Ed25519PublicKey:
    """The public key of a `.pub` file, or of a private key file (which holds both)."""
    data = _read_key(path)
    if b"PRIVATE KEY" in data:
        return load_signing_key(path).public_key()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointKeyError(f"{path} is not an Ed25519 public key")
    return key


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CheckpointKeyError(f"cannot read the key {path}: {error.strerror}") from None


def key_id(key: Ed25519PublicKey) -> str:
    """A short name of the key, so a file signed over a key change says which key signed what."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# --- taking and reading checkpoints ----------------------------------------------------------


def take(key: Ed25519PrivateKey) -> Checkpoint:
    """Each chain's head as it is now (each head row is one consistent length and hash)."""
    rows = AuditChain.objects.order_by("chain_id").values_list("chain_id", "last_seq", "last_hash")
    return Checkpoint(
        taken_at=timezone.now().isoformat(),
        key_id=key_id(key.public_key()),
        heads=tuple(ChainHead(*row) for row in rows),
    )


def signed_line(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> str:
    signature = base64.b64encode(key.sign(checkpoint.payload())).decode()
    fields = json.loads(checkpoint.payload())
    return json.dumps({**fields, "signature": signature}, sort_keys=True, separators=(",", ":"))


def append(path: Path, line: str) -> None:
    """Add one line and force it to disk; the file is only ever appended to."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    with os.fdopen(descriptor, "a", encoding="utf-8") as file:
        file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())


def read(path: Path, key: Ed25519PublicKey) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints whose signature holds, in file order, and a problem for each other line."""
    good: list[Checkpoint] = []
    problems: list[str] = []
    for number, text in _numbered_lines(path):
        checkpoint = _parse(text, number)
        if checkpoint is None:
            problems.append(f"checkpoint line {number}: not a checkpoint")
        elif checkpoint.key_id != key_id(key):
            problems.append(f"checkpoint line {number}: signed with another key")
        elif not _signature_holds(checkpoint, text, key):
            problems.append(f"checkpoint line {number}: the signature does not hold (edited)")
        else:
            good.append(checkpoint)
    return good, problems


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8") as file:
        for number, text in enumerate(file, start=1):
            if text.strip():
                yield number, text


def _parse(text: str, number: int) -> Checkpoint | None:
    try:
        fields = json.loads(text)
        heads = tuple(ChainHead(int(c), int(s), str(h)) for c, s, h in fields["chains"])
        return Checkpoint(str(fields["taken_at"]), str(fields["key_id"]), heads, number)
    except (ValueError, KeyError, TypeError):
        return None


def _signature_holds(checkpoint: Checkpoint, text: str, key: Ed25519PublicKey) -> bool:
    try:
        signature = base64.b64decode(json.loads(text)["signature"], validate=True)
        key.verify(signature, checkpoint.payload())
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
    return True


# --- comparing the database with a checkpoint ------------------------------------------------


def compare(checkpoint: Checkpoint) -> list[BrokenLink]:
    """Each chain that no longer holds what the checkpoint saw: gone, shorter, or rewritten."""
    when = _described(checkpoint.taken_at)
    heads = dict(AuditChain.objects.values_list("chain_id", "last_seq"))
    wanted = [h for h in checkpoint.heads if h.seq > 0]
    hashes = _event_hashes(wanted)
    found = []
    for head in checkpoint.heads:
        problem = _difference(head, heads.get(head.chain_id), hashes.get(head.chain_id), when)
        if problem:
            seq = head.seq if head.chain_id in heads else None
            found.append(BrokenLink(head.chain_id, seq, problem))
    return found


def _event_hashes(heads: list[ChainHead]) -> dict[int, str]:
    """The hash stored now for each checkpointed event, by chain (one query per 500 chains)."""
    found: dict[int, str] = {}
    for start in range(0, len(heads), 500):
        wanted = Q()
        for head in heads[start : start + 500]:
            wanted |= Q(chain_id=head.chain_id, seq=head.seq)
        found.update(AuditEvent.objects.filter(wanted).values_list("chain_id", "hash"))
    return found


def _difference(head: ChainHead, seq_now: int | None, hash_now: str | None, when: str) -> str:
    if seq_now is None:
        events = f"{head.seq} event{'s' if head.seq != 1 else ''}"
        return f"the chain is gone; the checkpoint of {when} had {events}"
    if head.seq == 0:
        return ""
    if seq_now < head.seq or hash_now is None:
        return (
            f"the chain is shorter than the checkpoint of {when}: event {head.seq} is gone "
            "(events deleted and the head moved back)"
        )
    if hash_now != head.hash:
        return (
            f"event {head.seq} differs from the checkpoint of {when} (an event up to it was "
            "rewritten and the later hashes recomputed)"
        )
    return ""


def _described(taken_at: str) -> str:
    try:
        return datetime.fromisoformat(taken_at).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return taken_at


def latest_findings(path: Path, key: Ed25519PublicKey) -> tuple[Checkpoint | None, list[str]]:
    """The latest checkpoint that holds and what differs from it, plus each bad line; a file
    with no good checkpoint at all is itself a finding."""
    good, problems = read(path, key)
    if not good:
        return None, [*problems, f"no checkpoint signed with this key in {path}"]
    latest = good[-1]
    return latest, problems + [str(link) for link in compare(latest)]
