# -*- coding: utf-8 -*-
"""Test PKI for the TLS tests: CAs, party certificates and keys made with ``cryptography``, good and bad on purpose.

Every knob the checks look at can be turned: CA:TRUE, key usage, SAN (IP/DNS/none, CN only), EKU (both, one, none),
validity window, issuer, encrypted key. EC P-256 keys, like the role makes them (fast to generate).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = datetime.timezone.utc
NOW = datetime.datetime.now(UTC)


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key, passphrase=None):
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()


def cert_pem(*certs):
    return ''.join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(cn, key, issuer=None, issuer_key=None, ca=False, key_cert_sign=None, san=(), eku=('server', 'client'),
              not_before=None, not_after=None, days=365):
    """A certificate for ``key``; self-signed unless ``issuer``/``issuer_key`` are given.

    ``san``: strings 'IP:x' / 'DNS:y'; ``eku``: subset of ('server', 'client') or None (no EKU extension);
    ``ca``: True (CA:TRUE), False (CA:FALSE) or None (no basicConstraints).
    """
    not_before = not_before or NOW - datetime.timedelta(days=1)
    not_after = not_after or NOW + datetime.timedelta(days=days)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(cn))
               .issuer_name(issuer.subject if issuer is not None else _name(cn))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_after))
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if key_cert_sign is None:
        key_cert_sign = bool(ca)
    builder = builder.add_extension(x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=key_cert_sign, crl_sign=key_cert_sign, encipher_only=False,
        decipher_only=False), critical=True)
    if san:
        names = [x509.IPAddress(ipaddress.ip_address(s[3:])) if s.startswith('IP:') else x509.DNSName(s[4:])
                 for s in san]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if eku is not None:
        oids = {'server': ExtendedKeyUsageOID.SERVER_AUTH, 'client': ExtendedKeyUsageOID.CLIENT_AUTH}
        builder = builder.add_extension(x509.ExtendedKeyUsage([oids[e] for e in eku]), critical=False)
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


class Party(object):
    """A CA and a party certificate for ``address`` (good unless told otherwise)."""

    def __init__(self, name, address, **leaf):
        self.name = name
        self.address = address
        self.ca_key = new_key()
        self.ca = make_cert('%s SecretFlow CA' % name, self.ca_key, ca=True, days=3650)
        self.key = new_key()
        san = ['IP:%s' % address] if address[0].isdigit() or ':' in address else ['DNS:%s' % address]
        leaf.setdefault('san', san)
        self.cert = make_cert(name, self.key, issuer=self.ca, issuer_key=self.ca_key, ca=False, **leaf)

    def issue(self, **leaf):
        """Another certificate from this party's CA (a new key unless ``key`` is given)."""
        key = leaf.pop('key', None) or new_key()
        leaf.setdefault('san', ['IP:%s' % self.address])
        return make_cert(leaf.pop('cn', self.name), key, issuer=self.ca, issuer_key=self.ca_key, ca=False,
                         **leaf), key
