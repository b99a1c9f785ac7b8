"""A throwaway OpenSSH server on a free loopback port, for the SFTP tests and the transfer benchmark.

It runs the system's ``sshd`` binary (``scripts/install-sshd`` installs it from Debian's packages)
in the foreground with its own configuration, host key, authorised key and pid file in a temporary
folder: it never touches port 22 or the system's sshd. Sessions can be paused (SIGSTOP) to play a
stalled server, or killed to play a dropped connection.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


def sshd_binary() -> str | None:
    found = shutil.which("sshd")
    return found or next((p for p in SSHD_CANDIDATES if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_key_pair(private_path: Path) -> str:
    """An Ed25519 key pair in OpenSSH format; returns the public key line."""
    key = ed25519.Ed25519PrivateKey.generate()
    private_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                               serialization.NoEncryption()))
    private_path.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return public.decode("ascii")


@dataclass
class LoopbackSshd:
    """One sshd process; ``start`` it, use ``port`` / ``client_key`` / ``known_hosts_line``, then ``stop``."""

    folder: Path
    port: int = field(default_factory=free_port)
    user: str = field(default_factory=getpass.getuser)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.host_key = self.folder / "host_ed25519"
        self.host_public = write_key_pair(self.host_key)
        self.client_key = self.folder / "client_ed25519"
        (self.folder / "authorized_keys").write_text(write_key_pair(self.client_key) + "\n", encoding="ascii")
        self.log = self.folder / "sshd.log"

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_public}\n"

    def start(self, sftp_flags: str = "") -> LoopbackSshd:
        binary = sshd_binary()
        if binary is None:
            raise RuntimeError("sshd is not installed: run scripts/install-sshd (openssh-server from Debian)")
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
        config = self.folder / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"PidFile {self.folder / 'sshd.pid'}", f"AuthorizedKeysFile {self.folder / 'authorized_keys'}",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no", "LogLevel ERROR",
            f"Subsystem sftp internal-sftp {sftp_flags}".rstrip(), "",
        ]), encoding="ascii")
        check = subprocess.run([binary, "-t", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"sshd refuses its test configuration: {check.stderr.strip()}")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([binary, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                                            stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                    if probe.recv(4).startswith(b"SSH-"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not start on port {self.port}: {self.log.read_text(errors='replace')}")

    def restart(self, sftp_flags: str = "") -> LoopbackSshd:
        self.stop()
        return self.start(sftp_flags)

    def stop(self) -> None:
        if self.process is None:
            return
        self.resume_sessions()
        self.kill_sessions()
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def session_pids(self) -> list[int]:
        """Every process below the listening sshd: one tree per open connection."""
        if self.process is None:
            return []
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
        found, todo = [], [self.process.pid]
        while todo:
            for child in children.get(todo.pop(), []):
                found.append(child)
                todo.append(child)
        return found

    def _signal_sessions(self, sig: signal.Signals) -> None:
        for pid in self.session_pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def pause_sessions(self) -> None:
        self._signal_sessions(signal.SIGSTOP)

    def resume_sessions(self) -> None:
        self._signal_sessions(signal.SIGCONT)

    def kill_sessions(self) -> None:
        self._signal_sessions(signal.SIGKILL)
