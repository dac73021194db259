"""A local certificate authority and a server certificate for serving the emulator over https.

Some clients (msal with the emulator as its real authority, Microsoft's Graph SDK auth
providers) insist on https. `ensure_certificates(home)` writes, once, under `home/emulator-tls/`:
a self-signed CA (`ca.pem`, the file clients are told to trust), and a server certificate for
127.0.0.1, ::1 and localhost signed by it (`server.pem` + `server-key.pem`). Keys are written
with mode 0600 (the certificates too, like everything else under SMVUE_HOME); the CA's key is kept so the server certificate can be re-issued when it nears
expiry. Nothing here is a secret worth protecting beyond this machine: the CA is trusted only by
clients that are explicitly pointed at `ca.pem`.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DIRECTORY = "emulator-tls"
HOSTS = ("localhost",)
ADDRESSES = ("127.0.0.1", "::1")
VALID_FOR = timedelta(days=365)
RENEW_BEFORE = timedelta(days=7)  # a server certificate this close to expiry is re-issued


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path  # what clients trust (requests' verify=, SSL_CERT_FILE, REQUESTS_CA_BUNDLE)
    cert_file: Path
    key_file: Path


def default_home() -> Path:
    """SMVUE_HOME, with the same default as the pipeline's settings."""
    return Path(os.environ.get("SMVUE_HOME", "./data")).resolve()


def ensure_certificates(home: Path | None = None, now: datetime | None = None) -> TlsFiles:
    """The CA and server files under `home`, generated when missing or the server certificate is
    about to expire (the CA is kept, so clients that trust it keep working)."""
    directory = (home or default_home()) / DIRECTORY
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    now = now or datetime.now(UTC)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    ca_key_file = directory / "ca-key.pem"
    fresh_ca = True
    if files.ca_file.exists() and ca_key_file.exists():
        ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
        fresh_ca = ca_cert.not_valid_after_utc - RENEW_BEFORE <= now
    if fresh_ca:
        ca_key, ca_cert = _new_ca(files.ca_file, ca_key_file, now)
    if fresh_ca or not _server_cert_usable(files, ca_cert, now):
        _new_server_cert(files, ca_key, ca_cert, now)  # type: ignore[arg-type]
    return files


def _new_ca(ca_file: Path, ca_key_file: Path, now: datetime):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SMVue calendar emulator local CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR * 5)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(ca_key_file, _key_pem(key))
    _write_private(ca_file, cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _new_server_cert(files: TlsFiles, ca_key, ca_cert: x509.Certificate, now: datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(host) for host in HOSTS] + [
        x509.IPAddress(ipaddress.ip_address(address)) for address in ADDRESSES
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + VALID_FOR, ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(files.key_file, _key_pem(key))
    _write_private(files.cert_file, cert.public_bytes(serialization.Encoding.PEM))


def _server_cert_usable(files: TlsFiles, ca_cert: x509.Certificate, now: datetime) -> bool:
    if not files.cert_file.exists() or not files.key_file.exists():
        return False
    try:
        cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    except ValueError:
        return False
    return cert.issuer == ca_cert.subject and cert.not_valid_after_utc - RENEW_BEFORE > now


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    """Create (or replace) a file readable by its owner only, never briefly wider."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)
