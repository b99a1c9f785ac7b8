"""Detached signatures of transferred files: the ``FS`` file beside each ``FI`` part (and our ``FO`` answers).

Format (documented in the README for senders):
- the signed bytes are the exact bytes of the file, as transferred;
- the digest is SHA-256;
- RSA keys sign with PKCS#1 v1.5, EC keys (P-256, P-384, P-521) with ECDSA (DER-encoded ``r, s``);
- the ``FS`` file holds the signature encoded in base64 (standard alphabet, one line, ASCII;
  whitespace is ignored when reading).
The verifying key is the sender's X.509 certificate or public key (PEM or DER) registered in
``config/senders/``. Files are hashed in a stream, so a 50 MB part is never held in memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from cbss_batch.config import SigningSettings
from cbss_batch.errors import ConfigError

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_CHUNK = 1 << 20
MAX_SIGNATURE_FILE = 64 * 1024  # an FS file is a few hundred bytes; anything far larger is not a signature


@dataclass(frozen=True, slots=True)
class SignatureProblem:
    """Why a signature does not verify, in words a sender can act on."""

    reason: str


def digest_of(paths: Iterable[Path]) -> bytes:
    """SHA-256 of the concatenated bytes of ``paths``, read in chunks."""
    h = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                h.update(chunk)
    return h.digest()


def load_public_key(path: Path) -> PublicKey:
    """A certificate or public key file (PEM or DER); ConfigError naming the file otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sender's certificate: {exc.strerror}") from exc
    key: object
    for loader in (x509.load_pem_x509_certificate, x509.load_der_x509_certificate):
        try:
            key = loader(data).public_key()
            break
        except ValueError:
            continue
    else:
        key = None
        for public_loader in (serialization.load_pem_public_key, serialization.load_der_public_key):
            try:
                key = public_loader(data)
                break
            except (ValueError, UnsupportedAlgorithm):
                continue
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ConfigError(f"{path}: not an X.509 certificate or public key with an RSA or EC key (PEM or DER)")
    return key


def load_private_key(data: bytes, passphrase: bytes | None, origin: str) -> PrivateKey:
    """A PEM private key (RSA or EC); ConfigError naming where it came from otherwise."""
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{origin}: not a PEM private key that can be opened ({exc}); "
                          "give an RSA or EC key and, if it is encrypted, its passphrase") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{origin}: only RSA and EC keys sign FS files")
    return key


def signing_key(settings: SigningSettings, environ: Mapping[str, str]) -> PrivateKey | None:
    """Our own key for FS files beside the answers, or None when none is configured."""
    passphrase = environ.get(settings.passphrase_env, "").encode() if settings.passphrase_env else None
    if settings.key_env:
        text = environ.get(settings.key_env)
        if not text:
            raise ConfigError(f"signing.key_env names {settings.key_env}, which is not set; export the PEM private "
                              "key in it or remove [signing]")
        return load_private_key(text.encode("ascii", "replace"), passphrase or None, settings.key_env)
    if settings.key_file is not None:
        try:
            data = settings.key_file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"signing.key_file {settings.key_file}: cannot read: {exc.strerror}") from exc
        return load_private_key(data, passphrase or None, str(settings.key_file))
    return None


def sign_digest(key: PrivateKey, digest: bytes) -> bytes:
    """The base64 signature (as written in an FS file) of a SHA-256 digest."""
    algorithm = Prehashed(hashes.SHA256())
    if isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(digest, padding.PKCS1v15(), algorithm)
    else:
        raw = key.sign(digest, ec.ECDSA(algorithm))
    return base64.b64encode(raw) + b"\n"


def sign_files(key: PrivateKey, paths: Iterable[Path]) -> bytes:
    """The FS content for the concatenated bytes of ``paths`` (one path: one file)."""
    return sign_digest(key, digest_of(paths))


def verify_digest(key: PublicKey, digest: bytes, signature_text: bytes) -> SignatureProblem | None:
    """None when ``signature_text`` (an FS file's content) signs ``digest`` with ``key``."""
    if len(signature_text) > MAX_SIGNATURE_FILE:
        return SignatureProblem(f"the FS file holds {len(signature_text)} bytes: not a signature")
    try:
        raw = base64.b64decode(b"".join(signature_text.split()), validate=True)
    except (binascii.Error, ValueError):
        return SignatureProblem("the FS file is not base64")
    if not raw:
        return SignatureProblem("the FS file is empty")
    algorithm = Prehashed(hashes.SHA256())
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(raw, digest, padding.PKCS1v15(), algorithm)
        else:
            key.verify(raw, digest, ec.ECDSA(algorithm))
    except InvalidSignature:
        return SignatureProblem("the signature does not match the file and the sender's registered key "
                                "(file changed after signing, or signed with another key)")
    return None


def verify_file(key: PublicKey, data_path: Path, signature_path: Path) -> SignatureProblem | None:
    """Check one FI part against its FS file."""
    if signature_path.stat().st_size > MAX_SIGNATURE_FILE:
        return SignatureProblem(f"{signature_path.name} is too large to be a signature")
    return verify_digest(key, digest_of([data_path]), signature_path.read_bytes())
