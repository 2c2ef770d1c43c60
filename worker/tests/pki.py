"""A small PKI for the tests (``cryptography``, the worker's test extra), laid out like the node role installs it.

One CA per party (EC P-384, CA:TRUE pathlen 0, keyCertSign+cRLSign, no name constraints), party certificates
(EC P-256, SAN = the party's external address, EKU serverAuth+clientAuth); variants for the failure cases.
``install_party`` writes ``<dir>/<version>/{cert.pem,key.pem}``, ``<dir>/current -> <version>`` and
``<dir>/peers/<party>.pem``, exactly the node role's layout.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

EKU = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Ca:
    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Leaf:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, password: Optional[bytes] = None) -> bytes:
        enc = (serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption())
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)

    @property
    def serial_hex(self) -> str:
        return format(self.cert.serial_number, "x")


def make_ca(name: str, days: int = 30) -> Ca:
    key = ec.generate_private_key(ec.SECP384R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"{name} party CA")])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Ca(name, key, cert)


def make_leaf(ca: Ca, name: str, sans: Sequence[str], eku: Iterable[str] = ("server", "client"),
              valid_days: Sequence[int] = (-1, 30)) -> Leaf:
    """``sans``: IP addresses (IP SAN) or DNS names; ``valid_days``: (not before, not after) relative to now."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = []
    for s in sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(s)))
        except ValueError:
            names.append(x509.DNSName(s))
    now = _now()
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
         .issuer_name(ca.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now + dt.timedelta(days=valid_days[0])).not_valid_after(now + dt.timedelta(days=valid_days[1]))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False))
    eku = list(eku)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage([EKU[e] for e in eku]), critical=False)
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Leaf(key, b.sign(ca.key, hashes.SHA256()))


def write(path: str, data: bytes, mode: int = 0o644) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    return path


def install_version(tls_dir: str, version: str, leaf: Leaf, key_password: Optional[bytes] = None) -> str:
    """<tls_dir>/<version>/{cert.pem,key.pem} (key 0600); returns the version directory."""
    vdir = os.path.join(tls_dir, version)
    write(os.path.join(vdir, "cert.pem"), leaf.cert_pem)
    write(os.path.join(vdir, "key.pem"), leaf.key_pem(key_password), 0o600)
    return vdir


def switch_current(tls_dir: str, version: str) -> None:
    """Atomically point <tls_dir>/current at <version> (relative link), as the node role does."""
    tmp = os.path.join(tls_dir, ".current.tmp")
    if os.path.lexists(tmp):
        os.remove(tmp)
    os.symlink(version, tmp)
    os.replace(tmp, os.path.join(tls_dir, "current"))


def install_party(tls_dir: str, leaf: Leaf, peer_cas: Dict[str, Ca], version: Optional[str] = None) -> str:
    """The node role's layout for one party: version dir + current + peers/<party>.pem."""
    version = version or leaf.serial_hex
    install_version(tls_dir, version, leaf)
    switch_current(tls_dir, version)
    for party, ca in peer_cas.items():
        write(os.path.join(tls_dir, "peers", f"{party}.pem"), ca.pem)
    return version
