"""FS signatures: required for production sets, checked against the sender's registered key; ours on answers."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from cbss_batch.signatures import MAX_SIGNATURE_FILE, digest_of, load_public_key, sign_digest, verify_digest
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, NewDbUrl, Workspace, write_config

DAY = TODAY.replace(day=20)


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _certificate(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Payroll bureau 006400")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def sender_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _workspace(tmp_path: Path, new_db_url: NewDbUrl, sender_key: rsa.RSAPrivateKey, extra: str = "") -> Workspace:
    root = tmp_path / "ws"
    write_config(root, extra, signatures=True)
    senders = root / "config" / "senders"
    senders.mkdir(parents=True)
    (senders / "006400.pem").write_bytes(_certificate(sender_key))
    (senders / "006400.toml").write_text('number = "006400"\ncertificate = "006400.pem"\n'
                                         '[mandates]\nall_employers = true\n', encoding="utf-8")
    ws = Workspace(root, new_db_url(root))
    assert ws.cli("init").exit_code == 0
    return ws


def _key_file(tmp_path: Path, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(_pem(key))
    return path


def _acrf_codes(ws: Workspace, folder: str) -> tuple[str, list[str]]:
    acrf = next(ws.out("006400", folder).glob("FO.ACRF.*"))
    root = etree.parse(str(acrf)).getroot()
    return root.findtext("Form/ReceptionResult/ResultCode") or "", [
        e.text or "" for e in root.iter("ErrorID")]


def _send_signed(ws: Workspace, tmp_path: Path, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, *,
                 env: str = "R", parts: int = 2) -> list[Path]:
    files = drop_set(ws.inbox, "006400", make_dmfa(workers=4, quarter="20253"), env=env, day=DAY, parts=parts)
    fi = [p for p in files if p.name.startswith("FI.")]
    result = ws.cli("sign", "--key", str(_key_file(tmp_path, key, "signing.pem")), *map(str, fi))
    assert result.exit_code == 0, result.output
    return fi


def test_signed_production_set_is_accepted(tmp_path: Path, new_db_url: NewDbUrl, sender_key: rsa.RSAPrivateKey) -> None:
    ws = _workspace(tmp_path, new_db_url, sender_key)
    fi = _send_signed(ws, tmp_path, sender_key)
    assert sorted(p.name for p in fi[0].parent.glob("FS.*")) == [
        "FS.DMFA.006400.20261120.00001.R.2.1", "FS.DMFA.006400.20261120.00001.R.2.2"]
    assert ws.cli("run").exit_code == 0
    assert _acrf_codes(ws, "OUT") == ("1", [])


def test_one_tampered_byte_gives_acrf_125(tmp_path: Path, new_db_url: NewDbUrl, sender_key: rsa.RSAPrivateKey) -> None:
    ws = _workspace(tmp_path, new_db_url, sender_key)
    fi = _send_signed(ws, tmp_path, sender_key)
    data = bytearray(fi[1].read_bytes())
    data[len(data) // 2] ^= 0x01
    fi[1].write_bytes(bytes(data))
    assert ws.cli("run").exit_code == 0
    assert _acrf_codes(ws, "OUT") == ("0", ["ACRF-125"])
    [(reason,)] = ws.sql("select reason from file_sets")
    assert str(reason).startswith("part 2: the signature does not")


def test_signature_with_another_key_gives_acrf_125(tmp_path: Path, new_db_url: NewDbUrl,
                                                   sender_key: rsa.RSAPrivateKey) -> None:
    ws = _workspace(tmp_path, new_db_url, sender_key)
    _send_signed(ws, tmp_path, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ws.cli("run")
    assert _acrf_codes(ws, "OUT") == ("0", ["ACRF-125"])


def test_missing_signature_in_production_gives_acrf_122_and_125(tmp_path: Path, new_db_url: NewDbUrl,
                                                                  sender_key: rsa.RSAPrivateKey) -> None:
    ws = _workspace(tmp_path, new_db_url, sender_key)
    drop_set(ws.inbox, "006400", make_dmfa(workers=2, quarter="20253"), env="R", day=DAY)
    ws.cli("run")
    assert _acrf_codes(ws, "OUT") == ("0", ["ACRF-122", "ACRF-125"])


def test_missing_signature_in_test_environment_is_accepted(tmp_path: Path, new_db_url: NewDbUrl,
                                                           sender_key: rsa.RSAPrivateKey) -> None:
    ws = _workspace(tmp_path, new_db_url, sender_key)
    drop_set(ws.inbox, "006400", make_dmfa(workers=2, quarter="20253"), env="T", day=DAY)
    ws.cli("run")
    assert _acrf_codes(ws, "OUTTEST") == ("1", [])


def test_production_set_of_a_sender_without_certificate_gives_acrf_125(tmp_path: Path, new_db_url: NewDbUrl) -> None:
    root = tmp_path / "ws"
    write_config(root, signatures=True)
    ws = Workspace(root, new_db_url(root))
    ws.cli("init")
    key = ec.generate_private_key(ec.SECP256R1())
    _send_signed(ws, tmp_path, key, parts=1)
    ws.cli("run")
    assert _acrf_codes(ws, "OUT") == ("0", ["ACRF-125"])


def test_ec_public_key_file_verifies(tmp_path: Path, new_db_url: NewDbUrl, sender_key: rsa.RSAPrivateKey) -> None:
    ws = _workspace(tmp_path, new_db_url, sender_key)
    key = ec.generate_private_key(ec.SECP384R1())
    (ws.root / "config" / "senders" / "006400.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    _send_signed(ws, tmp_path, key, parts=3)
    ws.cli("run")
    assert _acrf_codes(ws, "OUT") == ("1", [])


def test_our_answers_carry_a_signature_when_a_key_is_configured(tmp_path: Path, new_db_url: NewDbUrl,
                                                                sender_key: rsa.RSAPrivateKey,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    ours = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    monkeypatch.setenv("CBSS_TEST_SIGNING_KEY", _pem(ours).decode("ascii"))
    ws = _workspace(tmp_path, new_db_url, sender_key, '[signing]\nkey_env = "CBSS_TEST_SIGNING_KEY"\n')
    drop_set(ws.inbox, "006400", make_dmfa(workers=2, quarter="20253"), env="T", day=DAY)
    assert ws.cli("run").exit_code == 0
    out = ws.out("006400", "OUTTEST")
    assert ws.answers() == sorted(f"{prefix}.{kind}.999999.20261128.{seq}.T" for prefix in ("FO", "FS", "GO")
                                  for kind, seq in (("ACRF", "00001"), ("NOTI", "00002")))
    for kind, seq in (("ACRF", "00001"), ("NOTI", "00002")):
        body = out / f"FO.{kind}.999999.20261128.{seq}.T"
        signature = base64.b64decode((out / f"FS.{kind}.999999.20261128.{seq}.T").read_bytes())
        ours.public_key().verify(signature, body.read_bytes(), padding.PKCS1v15(), hashes.SHA256())  # raises if bad


def test_signature_format_is_plain_pkcs1_sha256_base64(tmp_path: Path) -> None:
    """Any tool can produce what we verify: openssl dgst -sha256 -sign key.pem FI… | base64 -w0."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    data = tmp_path / "FI.DMFA.006400.20261120.00001.R.1.1"
    data.write_bytes(b"<DmfAOriginal/>")
    independent = base64.b64encode(key.sign(data.read_bytes(), padding.PKCS1v15(), hashes.SHA256()))
    assert verify_digest(key.public_key(), digest_of([data]), independent) is None
    assert sign_digest(key, digest_of([data])).strip() == independent  # PKCS#1 v1.5 is deterministic


@pytest.mark.parametrize(("text", "reason"), [
    (b"", "empty"),
    (b"not base64 at all!", "not base64"),
    (b"QUJD", "does not match"),
    (b"A" * (MAX_SIGNATURE_FILE + 4), "not a signature"),
])
def test_malformed_signature_files_are_explained(text: bytes, reason: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    problem = verify_digest(key.public_key(), digest_of([]), text)
    assert problem is not None and reason in problem.reason


def test_unusable_certificate_file_is_a_config_error(tmp_path: Path) -> None:
    from cbss_batch.errors import ConfigError

    bad = tmp_path / "006400.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match="006400.pem"):
        load_public_key(bad)
