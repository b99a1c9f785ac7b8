"""SFTP access to a sender's mailbox (paramiko) — the only module that imports paramiko.

``SftpTransport.open(mailbox, settings, environ)`` connects with strict host-key checking against
``known_hosts`` (an unknown or changed key refuses the connection), logs in with the mailbox's key,
sets keepalives and a read timeout on the channel, and arms a watchdog that cuts the connection
when a whole session runs past ``session_timeout``. Every library error leaves this module as a
``TransportError`` naming the mailbox, the host and the operation.

Downloads use paramiko's prefetch (PERFORMANCE.md: plain reads are 32× slower; more concurrent
prefetch requests or bigger windows made it slower). What measurably helps on this machine
(``scripts/bench --sftp``) is asking for 128 KiB per read request instead of 32 KiB and accepting
SSH packets of that size: fewer, larger packets cost less Python per byte.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import socket
import stat
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import paramiko

from cbss_batch.config import SftpSettings
from cbss_batch.errors import ConfigError, HostKeyError, TransportError
from cbss_batch.senders import Mailbox

log = logging.getLogger(__name__)

PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr")
READ_REQUEST_BYTES = 128 * 1024  # per SFTP read request while prefetching (paramiko's default: 32 KiB)
MAX_PACKET_BYTES = 128 * 1024  # largest SSH packet we accept (paramiko's default: 32 KiB)


@dataclass(frozen=True, slots=True)
class RemoteFile:
    name: str
    size: int
    mtime: int


def host_key_name(host: str, port: int) -> str:
    """How known_hosts names a server: ``host`` on port 22, ``[host]:port`` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint of a host key (what ``ssh-keygen -lf`` prints)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def read_private_key(mailbox: Mailbox, environ: Mapping[str, str]) -> paramiko.PKey:
    """The mailbox's login key from its file or environment variable; ConfigError saying which."""
    passphrase = environ.get(mailbox.passphrase_env) if mailbox.passphrase_env else None
    if mailbox.key_env:
        text = environ.get(mailbox.key_env)
        if not text:
            raise ConfigError(f"mailbox {mailbox.sender}: environment variable {mailbox.key_env} (the SSH private "
                              "key) is not set")
        origin = f"environment variable {mailbox.key_env}"
    else:
        assert mailbox.key_file is not None
        try:
            text = mailbox.key_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"mailbox {mailbox.sender}: cannot read the SSH key {mailbox.key_file}: {exc}") from exc
        origin = str(mailbox.key_file)
    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase)
        except paramiko.PasswordRequiredException as exc:
            raise ConfigError(f"mailbox {mailbox.sender}: the SSH key in {origin} is encrypted; set its passphrase "
                              f"in {mailbox.passphrase_env or 'the variable named by passphrase_env'}") from exc
        except (paramiko.SSHException, ValueError):
            continue
    raise ConfigError(f"mailbox {mailbox.sender}: {origin} holds no OpenSSH private key (Ed25519, ECDSA or RSA)")


def scan_host_key(host: str, port: int, timeout: float) -> paramiko.PKey:
    """The host key a server presents (for ``cbss-batch mailbox trust``); nothing is trusted here."""
    transport = _start(host, port, timeout)
    try:
        return transport.get_remote_server_key()
    finally:
        transport.close()


def trust_host_key(known_hosts: Path, host: str, port: int, key: paramiko.PKey) -> None:
    """Record ``key`` for the server in ``known_hosts`` (replacing an older key of the same type)."""
    keys = paramiko.HostKeys()
    if known_hosts.is_file():
        keys.load(str(known_hosts))
    keys.add(host_key_name(host, port), key.get_name(), key)
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    keys.save(str(known_hosts))


def _start(host: str, port: int, timeout: float) -> paramiko.Transport:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise TransportError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
    transport = paramiko.Transport(sock, default_max_packet_size=MAX_PACKET_BYTES)
    transport.banner_timeout = timeout
    transport.handshake_timeout = timeout
    transport.auth_timeout = timeout
    options = transport.get_security_options()
    available = tuple(options.ciphers)
    options.ciphers = tuple(c for c in PREFERRED_CIPHERS if c in available) + tuple(
        c for c in available if c not in PREFERRED_CIPHERS)
    try:
        transport.start_client(timeout=timeout)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        transport.close()
        raise TransportError(f"no SSH session with {host}:{port}: {exc or exc.__class__.__name__}") from exc
    return transport


class SftpTransport:
    """One logged-in SFTP session to one mailbox; use as a context manager so it is always closed."""

    def __init__(self, mailbox: Mailbox, transport: paramiko.Transport, sftp: paramiko.SFTPClient,
                 watchdog: threading.Timer) -> None:
        self.mailbox = mailbox
        self._transport, self._sftp, self._watchdog = transport, sftp, watchdog
        self.where = f"mailbox {mailbox.sender} ({mailbox.host}:{mailbox.port})"

    @classmethod
    def open(cls, mailbox: Mailbox, settings: SftpSettings, environ: Mapping[str, str]) -> SftpTransport:
        where = f"mailbox {mailbox.sender} ({mailbox.host}:{mailbox.port})"
        pkey = read_private_key(mailbox, environ)
        known = paramiko.HostKeys()
        if settings.known_hosts.is_file():
            known.load(str(settings.known_hosts))
        transport = _start(mailbox.host, mailbox.port, settings.connect_timeout)
        try:
            _verify_host_key(transport, known, mailbox, settings.known_hosts)
            try:
                transport.auth_publickey(mailbox.user, pkey)
            except paramiko.AuthenticationException as exc:
                raise TransportError(f"{where}: the server refused the key of user {mailbox.user}; check the "
                                     "mailbox user and key") from exc
            if settings.keepalive:
                transport.set_keepalive(settings.keepalive)
            sftp = paramiko.SFTPClient.from_transport(transport)
            if sftp is None:
                raise TransportError(f"{where}: the server offers no SFTP subsystem")
            sftp.get_channel().settimeout(settings.read_timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            transport.close()
            raise TransportError(f"{where}: {exc or exc.__class__.__name__}") from exc
        except BaseException:
            transport.close()
            raise
        watchdog = threading.Timer(settings.session_timeout, cls._cut, (transport, where, settings.session_timeout))
        watchdog.daemon = True
        watchdog.start()
        return cls(mailbox, transport, sftp, watchdog)

    @staticmethod
    def _cut(transport: paramiko.Transport, where: str, limit: float) -> None:
        log.error("%s: the session ran past %.0f s and is cut (sftp.session_timeout_seconds)", where, limit)
        transport.close()

    def __enter__(self) -> SftpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session; a connection that already died closes quietly."""
        self._watchdog.cancel()
        try:
            self._sftp.close()
        except (paramiko.SSHException, OSError, EOFError):
            log.debug("%s: the SFTP channel was already gone", self.where)
        finally:
            self._transport.close()

    @property
    def is_active(self) -> bool:
        return self._transport.is_active()

    def _call(self, what: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except PermissionError as exc:
            raise TransportError(f"{self.where}: permission denied while {what}") from exc
        except FileNotFoundError as exc:
            raise TransportError(f"{self.where}: not found while {what}") from exc
        except TimeoutError as exc:
            raise TransportError(f"{self.where}: no answer from the server while {what} (read timeout)") from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise TransportError(f"{self.where}: {what} failed: {exc or exc.__class__.__name__}") from exc
        except UnicodeDecodeError as exc:  # paramiko decodes every name it lists as UTF-8, strictly
            raise TransportError(f"{self.where}: {what} failed: a file name there is not UTF-8 "
                                 f"({exc.object[:80]!r}); the sender must rename or remove that file") from exc

    def list_files(self, folder: str) -> list[RemoteFile]:
        """Regular files of a remote folder (no directories, no links), by name."""
        entries = self._call(f"listing {folder}", lambda: self._sftp.listdir_attr(folder))
        return sorted((RemoteFile(e.filename, int(e.st_size or 0), int(e.st_mtime or 0)) for e in entries
                       if e.st_mode is not None and stat.S_ISREG(e.st_mode)), key=lambda f: f.name)

    def download(self, remote: str, target: IO[bytes]) -> int:
        """Copy a remote file into an open local file (prefetched); the number of bytes copied."""
        return int(self._call(f"downloading {remote}", lambda: self._copy_out(remote, target)))

    def _copy_out(self, remote: str, target: IO[bytes]) -> int:
        with self._sftp.open(remote, "rb") as source:
            size = int(source.stat().st_size or 0)
            source.MAX_REQUEST_SIZE = READ_REQUEST_BYTES
            source.prefetch(size)
            copied = 0
            while data := source.read(READ_REQUEST_BYTES):  # one prefetched reply each: no joining
                target.write(data)
                copied += len(data)
        return copied

    def upload(self, local: Path, remote: str) -> None:
        """Copy a local file to a remote path; the size is confirmed by the server."""
        with local.open("rb") as source:
            self._call(f"uploading {remote}", lambda: self._sftp.putfo(source, remote, confirm=True))

    def exists(self, remote: str) -> int | None:
        """The size of a remote file, or None when it is not there."""
        try:
            return int(self._sftp.stat(remote).st_size or 0)
        except FileNotFoundError:
            return None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise TransportError(f"{self.where}: looking for {remote} failed: {exc or exc.__class__.__name__}") from exc

    def rename(self, source: str, target: str) -> None:
        """Atomic rename on the server (replaces ``target``; OpenSSH's posix-rename)."""
        self._call(f"renaming {source} to {target}", lambda: self._sftp.posix_rename(source, target))

    def remove(self, remote: str) -> None:
        self._call(f"removing {remote}", lambda: self._sftp.remove(remote))

    def make_folder(self, remote: str) -> None:
        if self.exists(remote) is None:
            self._call(f"creating {remote}", lambda: self._sftp.mkdir(remote))


def _verify_host_key(transport: paramiko.Transport, known: paramiko.HostKeys, mailbox: Mailbox,
                     known_hosts: Path) -> None:
    """Refuse a server whose key is not recorded, or differs from the recorded one."""
    key = transport.get_remote_server_key()
    name = host_key_name(mailbox.host, mailbox.port)
    recorded = known.lookup(name)
    trust = f"cbss-batch mailbox trust {mailbox.sender}"
    if recorded is None or key.get_name() not in recorded:
        if recorded:
            raise HostKeyError(
                f"mailbox {mailbox.sender}: {name} presents a {key.get_name()} key ({fingerprint(key)}) but "
                f"{known_hosts} records only {', '.join(recorded.keys())} for it; verify the new key with the "
                f"server's operator, then run `{trust}`")
        raise HostKeyError(f"mailbox {mailbox.sender}: the host key of {name} ({key.get_name()} {fingerprint(key)}) "
                           f"is not in {known_hosts}; verify it with the server's operator, then run `{trust}`")
    if recorded[key.get_name()] != key:
        raise HostKeyError(
            f"mailbox {mailbox.sender}: the host key of {name} CHANGED: the server presents {fingerprint(key)}, "
            f"{known_hosts} records {fingerprint(recorded[key.get_name()])}. This may be an attack; the connection "
            f"is refused. If the server's operator confirms the change, run `{trust}`")


def fsync_file(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())
