"""Commands for transfers: ``sign`` (FS files for senders and tests) and ``mailbox`` (SFTP host keys, checks)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cbss_batch.cli import Context, pass_context
from cbss_batch.errors import BatchError, ConfigError, TransportError
from cbss_batch.names import strip_xml_suffix
from cbss_batch.senders import Mailbox, load_senders


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--key", "key_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="PEM private key (RSA or EC).")
@click.option("--key-env", help="Environment variable holding the PEM private key instead of --key.")
@click.option("--passphrase-env", help="Environment variable holding the key's passphrase, if it is encrypted.")
@pass_context
def sign(ctx: Context, files: tuple[Path, ...], key_path: Path | None, key_env: str | None,
         passphrase_env: str | None) -> None:
    """Write the FS signature file beside each FI (or FO) file: base64 of an RSA PKCS#1 v1.5 or ECDSA
    signature over the SHA-256 of the file's bytes. FI.DMFA.… gets FS.DMFA.…; other names get .FS."""
    from cbss_batch.signatures import load_private_key, sign_files

    if (key_path is None) == (key_env is None):
        raise click.UsageError("give the signing key with exactly one of --key FILE or --key-env VARIABLE")
    passphrase = os.environ.get(passphrase_env, "").encode() if passphrase_env else None
    if key_env:
        text = os.environ.get(key_env)
        if not text:
            raise ConfigError(f"environment variable {key_env} is not set; export the PEM private key in it")
        key = load_private_key(text.encode("ascii", "replace"), passphrase or None, key_env)
    else:
        assert key_path is not None
        key = load_private_key(key_path.read_bytes(), passphrase or None, str(key_path))
    written = []
    for path in files:
        target = path.with_name(_signature_name(path.name))
        target.write_bytes(sign_files(key, [path]))
        written.append({"file": str(path), "signature": str(target)})
    ctx.emit({"signed": written}, lambda d: click.echo("\n".join(w["signature"] for w in d["signed"])))


def _signature_name(name: str) -> str:
    bare, _ = strip_xml_suffix(name)
    for prefix in ("FI.", "FO.", "CO."):
        if bare.startswith(prefix):
            return "FS." + bare[len(prefix):]
    return name + ".FS"


@click.group()
def mailbox() -> None:
    """SFTP mailboxes of registered senders (config/senders/<number>.toml, [mailbox])."""


def _mailbox(ctx: Context, sender: str) -> Mailbox:
    registered = load_senders(ctx.settings.senders).get(sender)
    if registered is None or registered.mailbox is None:
        raise ConfigError(f"sender {sender} has no [mailbox] in {ctx.settings.senders / (sender + '.toml')}")
    return registered.mailbox


@mailbox.command("trust")
@click.argument("sender")
@click.option("--fingerprint", "expected", help="Record the key only if it has this SHA256 fingerprint.")
@click.option("--yes", is_flag=True, help="Record the key without asking (after checking --fingerprint).")
@pass_context
def mailbox_trust(ctx: Context, sender: str, expected: str | None, yes: bool) -> None:
    """Show the host key of SENDER's SFTP server and record it in known_hosts once confirmed."""
    from cbss_batch.transport import fingerprint, host_key_name, scan_host_key, trust_host_key

    box = _mailbox(ctx, sender)
    key = scan_host_key(box.host, box.port, ctx.settings.sftp.connect_timeout)
    shown = fingerprint(key)
    name = host_key_name(box.host, box.port)
    click.echo(f"{name} presents a {key.get_name()} host key with fingerprint {shown}", err=ctx.as_json)
    if expected is not None and expected != shown:
        raise BatchError(f"the fingerprint of {name} is {shown}, not {expected}: nothing recorded")
    if not yes and expected is None and not click.confirm("Record this key as trusted?", default=False):
        raise BatchError("nothing recorded")
    trust_host_key(ctx.settings.sftp.known_hosts, box.host, box.port, key)
    ctx.emit({"host": name, "key_type": key.get_name(), "fingerprint": shown,
              "known_hosts": str(ctx.settings.sftp.known_hosts)},
             lambda d: click.echo(f"recorded in {d['known_hosts']}"))


@mailbox.command("check")
@click.argument("senders", nargs=-1)
@pass_context
def mailbox_check(ctx: Context, senders: tuple[str, ...]) -> None:
    """Log in to the SFTP mailboxes (all, or SENDERS) and list what waits in their folders."""
    from cbss_batch.transport import SftpTransport

    boxes = [s.mailbox for s in load_senders(ctx.settings.senders).values()
             if s.mailbox is not None and (not senders or s.number in senders)]
    results, failed = [], False
    for box in boxes:
        try:
            with SftpTransport.open(box, ctx.settings.sftp, os.environ) as session:
                counts = {folder: len(session.list_files(box.remote(folder))) for folder in ("IN", "INTEST")}
            results.append({"sender": box.sender, "host": f"{box.host}:{box.port}", "ok": True, "files": counts})
        except TransportError as exc:
            failed = True
            results.append({"sender": box.sender, "host": f"{box.host}:{box.port}", "ok": False, "error": str(exc)})
    ctx.emit({"mailboxes": results}, lambda d: click.echo("\n".join(
        f"{r['sender']} {r['host']}: " + (f"ok, IN {r['files']['IN']} files, INTEST {r['files']['INTEST']} files"
                                          if r["ok"] else r["error"]) for r in d["mailboxes"]) or "no SFTP mailbox"))
    if failed:
        raise BatchError("some mailboxes could not be reached (see above)")
