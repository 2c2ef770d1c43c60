# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parties' TLS material: loading (PEM text or a controller file), the checks, and what the role publishes.

Mutual TLS between parties (issue #11): each managed party has a CA and ONE party certificate (SAN = the head's
``sf_external_ip``, EKU serverAuth + clientAuth) used on both links (RayFed's gRPC and SPU's brpc); every foreign
party's CA comes from ``sf_peer_parties.<name>.ca_cert`` or ``<sf_tls_dir>/peers/<name>-ca.pem``. The tls role
generates what is missing (community.crypto), then the ``tls_layout``/``tls_check`` action plugins call the functions
here - on the controller, before any host is touched. Every problem is reported at once, each naming the party (and
host) and the variable or file, like the deployment plan does.

What the checks refuse is what makes the links fail (verified against grpcio 1.56 / BoringSSL and brpc / OpenSSL,
docs/operations/tls.md): a CA without CA:TRUE; a party certificate not signed by the party's CA (or a chain longer
than ``sf_tls_verify_depth``); a SAN that does not cover the address the peers dial (IP SAN for an IP, DNS SAN for a
name; the CN is never used); an extended key usage without serverAuth or without clientAuth (we require both: the
same certificate serves the server and the client side); a certificate not yet valid or expired (and, as a warning,
one that expires within ``sf_tls_renew_days``); a key that does not match its certificate; unparsable PEM; an
encrypted private key (RayFed and SPU have no passphrase option).

``cryptography`` is imported lazily: the controller's Python has it (ansible-core requires it), but a clear message
beats an ImportError in a module_utils import.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import ipaddress
import os
import re

from ansible_collections.sfops.secretflow.plugins.module_utils._messages import where

PEM_BEGIN = '-----BEGIN'
_PEM_BLOCK = re.compile(r'-----BEGIN ([A-Z0-9 ]+)-----\s.*?-----END \1-----', re.S)
_DNS_LABEL = re.compile(r'^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$')

# RFC 5280 extended key usage OIDs (cryptography's ExtendedKeyUsageOID.SERVER_AUTH / CLIENT_AUTH).
SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

CRYPTOGRAPHY_MISSING = ('the Python package "cryptography" is missing in the controller\'s Python (%s); install it '
                        '(pip install cryptography) - the TLS material is generated and checked with it')


def _crypto():
    """The ``cryptography`` modules this file uses, imported on first use."""
    # pylint: disable=import-outside-toplevel
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
    return {'x509': x509, 'InvalidSignature': InvalidSignature, 'UnsupportedAlgorithm': UnsupportedAlgorithm,
            'hashes': hashes, 'serialization': serialization,
            'ec': ec, 'ed25519': ed25519, 'ed448': ed448, 'padding': padding, 'rsa': rsa}


def cryptography_error():
    """None when ``cryptography`` can be imported, else the message to fail with."""
    try:
        _crypto()
    except ImportError as exc:
        import sys  # pylint: disable=import-outside-toplevel
        return CRYPTOGRAPHY_MISSING % ('%s: %s' % (sys.executable, exc))
    return None


class Material(object):
    """One piece of TLS material: its PEM ``text`` and how messages name it (``label``: the inventory variable, with
    the file it came from, or the file of ``sf_tls_dir``)."""

    def __init__(self, label, text, path=None):
        self.label = label
        self.text = text
        self.path = path

    def __repr__(self):  # never the text: it may be a key
        return 'Material(%r, path=%r)' % (self.label, self.path)


def is_pem_text(value):
    """True for PEM text (starts with ``-----BEGIN`` after whitespace), False for anything else (a path)."""
    return isinstance(value, str) and value.lstrip().startswith(PEM_BEGIN)


def read_value(value, label):
    """An inventory value that is either PEM text or the path of a controller file.

    Returns ``(material, error)``: exactly one of them is None. ``label`` names the variable in messages.
    """
    if not isinstance(value, str) or not value.strip():
        return None, ('%s must be PEM text (starting with "-----BEGIN") or the path of a file on the controller, got %s'
                      % (label, 'an empty value' if isinstance(value, str) else type(value).__name__))
    if is_pem_text(value):
        return Material(label, value.strip() + '\n'), None
    path = os.path.expanduser(value.strip())
    if not os.path.isabs(path):
        return None, ('%s=%r is neither PEM text (starting with "-----BEGIN") nor an absolute path of a file on the '
                      'controller' % (label, value.strip()))
    return read_file(path, '%s (%s)' % (label, path))


def read_file(path, label):
    """A controller file as Material, or ``(None, error)`` when it cannot be read."""
    if not os.path.isfile(path):
        return None, '%s: no such file on the controller' % label
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        return None, '%s: cannot be read: %s' % (label, exc)
    try:
        text = data.decode('ascii')
    except UnicodeDecodeError:
        return None, '%s: is not PEM text (binary data; DER files must be converted to PEM)' % label
    return Material(label, text, path), None


def pem_blocks(text):
    """The PEM blocks of ``text`` as (type, block text), in order."""
    return [(m.group(1), m.group(0)) for m in _PEM_BLOCK.finditer(text or '')]


def parse_certificates(material):
    """All certificates of ``material`` (a certificate, or a bundle: several CAs, a leaf and its intermediates).

    Returns ``(certificates, error)``.
    """
    x509 = _crypto()['x509']
    blocks = pem_blocks(material.text)
    if any('PRIVATE KEY' in block[0] for block in blocks):
        return [], ('%s: holds a private key next to the certificate; keep keys in their own variable or file (they '
                    'are distributed with mode 0600, certificates are not)' % material.label)
    blocks = [block for kind, block in blocks if kind in ('CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE')]
    if not blocks:
        return [], '%s: no PEM certificate in it (expected "-----BEGIN CERTIFICATE-----")' % material.label
    certs = []
    for index, block in enumerate(blocks):
        try:
            certs.append(x509.load_pem_x509_certificate(block.encode('ascii')))
        except ValueError as exc:
            return [], '%s: certificate #%d cannot be parsed: %s' % (material.label, index + 1, exc)
    return certs, None


def parse_private_key(material):
    """The one unencrypted private key of ``material``. Returns ``(key, error)``."""
    crypto = _crypto()
    blocks = [(kind, block) for kind, block in pem_blocks(material.text) if kind.endswith('PRIVATE KEY')]
    if not blocks:
        return None, '%s: no PEM private key in it (expected "-----BEGIN ... PRIVATE KEY-----")' % material.label
    if len(blocks) > 1:
        return None, '%s: holds %d private keys; give exactly one' % (material.label, len(blocks))
    kind, block = blocks[0]
    encrypted = ('%s: is encrypted (protected by a passphrase): RayFed and SPU cannot load encrypted keys. Store it '
                 'unencrypted (openssl pkey -in KEY -out KEY.plain) and protect it with Ansible Vault instead'
                 % material.label)
    if 'ENCRYPTED' in kind or 'Proc-Type: 4,ENCRYPTED' in block:
        return None, encrypted
    try:
        key = crypto['serialization'].load_pem_private_key(block.encode('ascii'), password=None)
    except TypeError:   # "Password was not given but private key is encrypted"
        return None, encrypted
    except (ValueError, crypto['UnsupportedAlgorithm']) as exc:
        return None, '%s: the private key cannot be parsed: %s' % (material.label, exc)
    return key, None


# ---------------------------------------------------------------- facts about a certificate


def fingerprint(cert):
    """SHA-256 of the DER certificate as ``AB:CD:...`` (what ``openssl x509 -fingerprint -sha256`` prints)."""
    digest = hashlib.sha256(cert.public_bytes(_crypto()['serialization'].Encoding.DER)).hexdigest().upper()
    return ':'.join(digest[i:i + 2] for i in range(0, len(digest), 2))


def serial_hex(cert):
    """The serial number in lowercase hex, no separators (names the certificate's directory on the nodes)."""
    return '%x' % cert.serial_number


UTC = datetime.timezone.utc


def _utc(value):
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def not_before(cert):
    return _utc(getattr(cert, 'not_valid_before_utc', None) or cert.not_valid_before)


def not_after(cert):
    return _utc(getattr(cert, 'not_valid_after_utc', None) or cert.not_valid_after)


def iso(moment):
    """``2027-01-31T12:00:00Z``."""
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def now_utc():
    return datetime.datetime.now(UTC)


def days_left(cert, now):
    """Whole days until the certificate expires (negative once it has)."""
    return int((not_after(cert) - now).total_seconds() // 86400)


def _ext(cert, name):
    x509 = _crypto()['x509']
    try:
        return cert.extensions.get_extension_for_class(getattr(x509, name)).value
    except x509.ExtensionNotFound:
        return None


def is_ca(cert):
    constraints = _ext(cert, 'BasicConstraints')
    return bool(constraints is not None and constraints.ca)


def subject(cert):
    return cert.subject.rfc4514_string() or '(empty subject)'


def san_entries(cert):
    """The subject alternative names as ``IP:a.b.c.d`` / ``DNS:name`` strings."""
    x509 = _crypto()['x509']
    san = _ext(cert, 'SubjectAlternativeName')
    if san is None:
        return []
    return (['IP:%s' % ip for ip in san.get_values_for_type(x509.IPAddress)]
            + ['DNS:%s' % name for name in san.get_values_for_type(x509.DNSName)])


def _is_ip(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _dns_matches(pattern, name):
    """RFC 6125 matching as gRPC does it: case-insensitive, a wildcard only as the whole left-most label."""
    pattern = pattern.lower().rstrip('.')
    name = name.lower().rstrip('.')
    if pattern == name:
        return True
    if pattern.startswith('*.') and '*' not in pattern[2:]:
        head, _sep, rest = name.partition('.')
        return bool(head) and rest == pattern[2:] and '.' in rest
    return False


def covers(cert, address):
    """Whether the certificate's SAN covers ``address`` (an IP needs an IP SAN, a name a DNS SAN)."""
    x509 = _crypto()['x509']
    san = _ext(cert, 'SubjectAlternativeName')
    if san is None:
        return False
    if _is_ip(address):
        want = ipaddress.ip_address(address)
        return any(ip == want for ip in san.get_values_for_type(x509.IPAddress))
    return any(_dns_matches(name, address) for name in san.get_values_for_type(x509.DNSName))


def extended_key_usages(cert):
    """The EKU OIDs (dotted strings), or None when the certificate has no EKU extension."""
    eku = _ext(cert, 'ExtendedKeyUsage')
    return None if eku is None else set(oid.dotted_string for oid in eku)


def _public_der(key):
    serialization = _crypto()['serialization']
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches(cert, key):
    """Whether ``key`` (a private key) is the key of ``cert``."""
    return _public_der(cert.public_key()) == _public_der(key.public_key())


def signed_by(cert, issuer):
    """Whether ``issuer`` issued ``cert``: the issuer name matches and the signature verifies with its key."""
    if cert.issuer != issuer.subject:
        return False
    if hasattr(cert, 'verify_directly_issued_by'):   # cryptography >= 40
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, _crypto()['InvalidSignature']):
            return False
        return True
    return _verify_signature(cert, issuer.public_key())  # pragma: no cover - old cryptography


def _verify_signature(cert, public_key):  # pragma: no cover - old cryptography only
    crypto = _crypto()
    try:
        if isinstance(public_key, crypto['rsa'].RSAPublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, crypto['padding'].PKCS1v15(),
                              cert.signature_hash_algorithm)
        elif isinstance(public_key, crypto['ec'].EllipticCurvePublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes,
                              crypto['ec'].ECDSA(cert.signature_hash_algorithm))
        else:
            public_key.verify(cert.signature, cert.tbs_certificate_bytes)
    except crypto['InvalidSignature']:
        return False
    return True


def describe(cert, now):
    """What the role publishes about a certificate (public facts only)."""
    return {
        'subject': subject(cert),
        'issuer': cert.issuer.rfc4514_string(),
        'serial': serial_hex(cert),
        'fingerprint': fingerprint(cert),
        'not_before': iso(not_before(cert)),
        'not_after': iso(not_after(cert)),
        'days_left': days_left(cert, now),
        'san': san_entries(cert),
    }


# ---------------------------------------------------------------- the checks


class Report(object):
    """Errors and warnings of one run, each prefixed with where it is (party/host)."""

    def __init__(self):
        self.errors = []
        self.warnings = []

    def error(self, party, host, text):
        self.errors.append('%s: %s' % (where(party, host), text))

    def warn(self, party, host, text):
        self.warnings.append('%s: %s' % (where(party, host), text))


def _check_validity(report, party, host, label, cert, now, renew_days, what):
    if now is None:   # validity not asked for (does the material fit, timestamps aside?)
        return
    start, end = not_before(cert), not_after(cert)
    if now < start:
        report.error(party, host, '%s: %s is not valid yet (not before %s; the controller\'s clock says %s)'
                     % (label, what, iso(start), iso(now)))
        return
    if now >= end:
        report.error(party, host, '%s: %s expired on %s' % (label, what, iso(end)))
        return
    left = days_left(cert, now)
    if renew_days is not None and left < renew_days:
        report.warn(party, host, '%s: %s expires in %d day(s), on %s (less than sf_tls_renew_days=%d)'
                    % (label, what, left, iso(end), renew_days))


def check_ca_certificates(report, party, host, material, now, renew_days, what='CA certificate'):
    """Parse ``material`` as one or more CA certificates and check each: CA:TRUE, may sign certificates, valid now.

    Returns the certificates (an empty list when the material cannot be parsed).
    """
    certs, error = parse_certificates(material)
    if error:
        report.error(party, host, error)
        return []
    several = len(certs) > 1
    for index, cert in enumerate(certs):
        label = material.label + (' certificate #%d (%s)' % (index + 1, subject(cert)) if several else '')
        if not is_ca(cert):
            report.error(party, host, '%s: is not a CA certificate (basicConstraints CA:TRUE is missing; subject %s): '
                                      'peers verify party certificates against it, and TLS libraries refuse a '
                                      'non-CA issuer' % (label, subject(cert)))
        usage = _ext(cert, 'KeyUsage')
        if usage is not None and not usage.key_cert_sign:
            report.error(party, host, '%s: its key usage lacks keyCertSign: it may not sign certificates' % label)
        _check_validity(report, party, host, label, cert, now, renew_days, 'the ' + what)
    return certs


def _chain_to(leaf, intermediates, anchors):
    """Walk from ``leaf`` through ``intermediates`` to one of ``anchors``.

    Returns ``(links, anchor)``: how many signatures the chain has (1 = the leaf is signed by an anchor itself) and
    the anchor it ends at, or ``(links, None)`` when it does not reach one.
    """
    current, links, used = leaf, 0, []
    while True:
        links += 1
        for anchor in anchors:
            if signed_by(current, anchor):
                return links, anchor
        step = [c for c in intermediates if not any(c is u for u in used) and signed_by(current, c)]
        if not step:
            return links, None
        current = step[0]
        used.append(current)


def check_party_certificate(report, party, host, address, cert_material, key_material, ca_certs, verify_depth,
                            now, renew_days):
    """Check a party certificate (plus intermediates after it) and its key against the party's CA certificates.

    ``address`` is the head's ``sf_external_ip`` (what the peers dial); ``ca_certs`` come from
    :func:`check_ca_certificates` (may be empty when they failed: then the chain is not checked).
    Returns the leaf certificate or None.
    """
    certs, error = parse_certificates(cert_material)
    if error:
        report.error(party, host, error)
        cert = None
    else:
        cert, intermediates = certs[0], certs[1:]
    key = None
    if key_material is not None:
        key, error = parse_private_key(key_material)
        if error:
            report.error(party, host, error)
    if cert is None:
        return None
    label = cert_material.label

    if key is not None and not key_matches(cert, key):
        report.error(party, host, '%s: does not match its private key %s (a certificate and a key of different '
                                  'pairs; give the key the certificate was issued for)' % (label, key_material.label))

    if ca_certs:
        links, anchor = _chain_to(cert, intermediates, ca_certs)
        if anchor is None:
            report.error(party, host, "%s: is not signed by the party's CA (its issuer is %s; the CA is %s): peers "
                                      "trust only the party's CA, they would refuse it as 'unknown CA'"
                         % (label, cert.issuer.rfc4514_string() or '(empty)',
                            ', '.join(subject(c) for c in ca_certs)))
        elif links > verify_depth:
            report.error(party, host, '%s: reaches the party CA through %d intermediate CA(s), more than '
                                      'sf_tls_verify_depth=%d allows (%d): the SPU link would refuse it'
                         % (label, links - 1, verify_depth, verify_depth - 1))
        for extra in intermediates:
            if not is_ca(extra):
                report.error(party, host, '%s: the certificate after the first (%s) is not a CA certificate: a '
                                          'certificate file holds the party certificate, then its intermediate CAs'
                                          % (label, subject(extra)))

    if not covers(cert, address):
        names = san_entries(cert)
        hint = ''
        if not names:
            hint = (' The certificate has no subject alternative name at all%s: TLS clients (gRPC) never use the '
                    'common name.' % (' (the address is only in its CN)' if address in subject(cert) else ''))
        elif _is_ip(address) and ('DNS:%s' % address) in names:
            hint = ' An IP address must be an IP SAN ("IP:%s"), not a DNS SAN.' % address
        report.error(party, host, "%s: its subject alternative names (%s) do not cover the party's address %s "
                                  "(the head's sf_external_ip, which the peers dial): peers refuse the connection "
                                  "with a name mismatch.%s" % (label, ', '.join(names) or 'none', address, hint))

    usages = extended_key_usages(cert)
    missing = [name for oid, name in ((SERVER_AUTH, 'serverAuth'), (CLIENT_AUTH, 'clientAuth'))
               if usages is None or oid not in usages]
    if missing:
        report.error(party, host, '%s: its extended key usage %s %s: the party certificate serves both the server '
                                  '(peers dial the fed/SPU ports) and the client side (we dial theirs), so it needs '
                                  'serverAuth and clientAuth'
                     % (label, 'extension is absent, so it lacks' if usages is None else 'lacks',
                        ' and '.join(missing)))

    _check_validity(report, party, host, label, cert, now, renew_days, 'the party certificate')
    return cert


def check_ca_key(report, party, host, key_material, ca_certs):
    """A party CA's private key (used to sign the party certificate): unencrypted and the key of the FIRST CA
    certificate (the one that signs; a bundle lists the new CA first during a CA rotation)."""
    key, error = parse_private_key(key_material)
    if error:
        report.error(party, host, error)
        return None
    if ca_certs and not key_matches(ca_certs[0], key):
        report.error(party, host, '%s: is not the key of the CA certificate %s (the first certificate of '
                     'sf_tls_ca_cert signs the party certificate)' % (key_material.label, subject(ca_certs[0])))
    return key


# ---------------------------------------------------------------- bring your own: which combinations make sense

BYO_VARS = ('sf_tls_ca_cert', 'sf_tls_ca_key', 'sf_tls_cert', 'sf_tls_key')


def byo_plan(report, party, brought):
    """Decide, for one managed party, what is brought (``brought``: the BYO variables that are set) and what the role
    generates. Returns ``{'ca': 'brought'|'generate', 'cert': 'brought'|'generate'}`` or None after an error.

    Rules: a certificate without its key (or a key without its certificate) is an error; a brought certificate needs
    the CA that issued it (``sf_tls_ca_cert``: we export it to the peers); a brought CA certificate needs either its
    key (we sign the party certificate with it) or a brought party certificate; a CA key needs its CA certificate.
    """
    has = set(brought)
    ok = True
    if ('sf_tls_cert' in has) != ('sf_tls_key' in has):
        given, other = ('sf_tls_cert', 'sf_tls_key') if 'sf_tls_cert' in has else ('sf_tls_key', 'sf_tls_cert')
        report.error(party, None, '%s is set but %s is not: bring the party certificate and its key together'
                     % (given, other))
        ok = False
    if 'sf_tls_cert' in has and 'sf_tls_ca_cert' not in has:
        report.error(party, None, 'sf_tls_cert is set but sf_tls_ca_cert is not: the peers must trust the CA that '
                                  'issued the party certificate, so bring that CA certificate too (it is what '
                                  'playbooks/tls-export.yml hands to the other organisations)')
        ok = False
    if 'sf_tls_ca_key' in has and 'sf_tls_ca_cert' not in has:
        report.error(party, None, 'sf_tls_ca_key is set but sf_tls_ca_cert is not: a CA key is used only with its '
                                  'CA certificate')
        ok = False
    if 'sf_tls_ca_cert' in has and 'sf_tls_ca_key' not in has and 'sf_tls_cert' not in has:
        report.error(party, None, 'sf_tls_ca_cert is set without sf_tls_ca_key and without sf_tls_cert/sf_tls_key: '
                                  'the party certificate can then neither be signed here nor brought; give the CA '
                                  'key (to sign it here) or the party certificate and key')
        ok = False
    if not ok:
        return None
    return {'ca': 'brought' if 'sf_tls_ca_cert' in has else 'generate',
            'cert': 'brought' if 'sf_tls_cert' in has else 'generate'}


def peer_ca_missing(party, import_file):
    """Why a foreign party without a CA certificate is an error, and how to fix it."""
    return ("sf_peer_parties.%s.ca_cert is not set and %s does not exist: without the party's CA certificate no "
            "connection to it can be verified. Import the CA file the party's organisation sent you (compare its "
            "fingerprint with them first, out of band): ansible-playbook playbooks/tls-import.yml -e party=%s "
            "-e ca_file=/path/to/%s-ca.pem - or set sf_peer_parties.%s.ca_cert (PEM text or a controller path)"
            % (party, import_file, party, party, party))


# ---------------------------------------------------------------- the party PKI of a deployment
#
# <sf_tls_dir>/<party>/ca.pem, ca.key (generated CAs only), cert.pem, key.pem   managed parties
# <sf_tls_dir>/peers/<party>-ca.pem                                              foreign parties (tls-import.yml)

FILES = {'ca_cert': 'ca.pem', 'ca_key': 'ca.key', 'cert': 'cert.pem', 'key': 'key.pem'}
# Where brought material is copied for distribution (the CA key never is: it only signs, on the controller).
BYO_FILES = {'sf_tls_ca_cert': 'ca_cert', 'sf_tls_cert': 'cert', 'sf_tls_key': 'key'}
STAGES = ('layout', 'final', 'import')


def party_files(tls_dir, party):
    return dict((name, os.path.join(tls_dir, party, base)) for name, base in FILES.items())


def peer_file(tls_dir, party):
    return os.path.join(tls_dir, 'peers', '%s-ca.pem' % party)


def _existing_info(path, now):
    """describe() of the certificate in ``path``, or None when there is none (or it does not parse)."""
    if not os.path.isfile(path):
        return None
    material, error = read_file(path, path)
    if error:
        return None
    certs, error = parse_certificates(material)
    return None if error else describe(certs[0], now)


def _path_of(value):
    """The controller path a BYO value names, or None for PEM text."""
    if not isinstance(value, str) or is_pem_text(value):
        return None
    return os.path.expanduser(value.strip())


def _generated_still_fits(files, party, head, address, depth, brought_ca=None):
    """Whether the generated certificate + key on disk pass every check for ``address`` against the party's CA
    (``brought_ca``, or the generated CA with its key) - timestamps aside, as community.crypto's idempotency check
    does: then the role leaves them alone without even asking community.crypto (a fast steady state), and a dry run
    knows that nothing would be generated. An expired one is not re-signed by itself: rotate-certs.yml renews it."""
    needed = ('cert', 'key') if brought_ca else ('ca_cert', 'ca_key', 'cert', 'key')
    if not all(os.path.isfile(files[name]) for name in needed):
        return False
    quiet = Report()
    if brought_ca:
        ca, error = read_value(brought_ca, 'sf_tls_ca_cert')
    else:
        ca, error = read_file(files['ca_cert'], files['ca_cert'])
    cert, error_cert = read_file(files['cert'], files['cert'])
    key, error_key = read_file(files['key'], files['key'])
    if error or error_cert or error_key:
        return False
    ca_certs = check_ca_certificates(quiet, party, None, ca, None, None)
    check_party_certificate(quiet, party, head, address, cert, key, ca_certs, depth, None, None)
    return not quiet.errors


def _material(value, var, party_dir_file, generated, label_generated):
    """Brought material from its variable, or the generated file."""
    if not generated:
        return read_value(value, var)
    return read_file(party_dir_file, label_generated)


def examine(stage, plan, tls_dir, byo, peers, now, renew_days, renew=(), dry=False, peers_required=True):
    """Look at the whole party PKI of a deployment; returns ``(report, result)``.

    ``stage`` ``layout`` (before generating): decides per managed party what is brought and what the role
    generates, checks the brought material and the peers' CAs, and finds states generation must not touch (a CA
    certificate without its key). Warnings are left to the final stage. ``final`` (after generating): checks all
    material and returns what the role publishes as ``sf_tls``.

    ``plan`` is the deployment plan (``sf_plan``), ``byo`` party -> {variable: value} of the BYO variables that are
    set (:data:`BYO_VARS`), ``peers`` the ``sf_peer_parties`` mapping, ``renew`` the parties whose certificate is
    renewed (rotate-certs.yml). ``dry`` (the final stage of a run that generated nothing: check mode, tls_generate
    false): what generation would have made - a missing CA, a certificate that is missing, no longer fits or is
    renewed - is not checked but published as ``pending``.
    """
    report = Report()
    pending = {}
    final = stage == 'final'
    tls = plan.get('tls') or {}
    depth = tls.get('verify_depth') or 1
    managed = sorted(name for name, p in plan['parties'].items() if p.get('managed'))
    foreign = sorted(name for name, p in plan['parties'].items() if not p.get('managed'))
    for name in renew:
        if name not in plan['parties']:
            report.error(None, None, "parties: '%s' is not a party of this deployment (managed here: %s)"
                         % (name, ', '.join(managed)))
        elif name in foreign:
            report.error(name, None, 'parties: a peer party (sf_peer_parties): its own organisation renews its '
                                     'certificate')
    parties, published = {}, {}
    for party in managed:
        p = plan['parties'][party]
        head = p['head']
        files = party_files(tls_dir, party)
        brought = dict((var, value) for var, value in (byo.get(party) or {}).items()
                       if var in BYO_VARS and value not in (None, ''))
        sources = byo_plan(report, party, sorted(brought))
        if sources is None:
            continue
        entry = {
            'head': head, 'address': p['external_ip'], 'dir': os.path.join(tls_dir, party), 'files': files,
            'ca': sources['ca'], 'cert': sources['cert'], 'renew': party in renew,
            'brought': dict((var, {'path': _path_of(value), 'file': files.get(BYO_FILES.get(var))})
                            for var, value in brought.items()),
            'dir_exists': os.path.isdir(os.path.join(tls_dir, party)),
            'ca_exists': os.path.isfile(files['ca_cert']),
            'before': _existing_info(files['cert'], now),
        }
        if sources['ca'] == 'generate' and entry['ca_exists'] and not os.path.isfile(files['ca_key']):
            report.error(party, None, '%s exists but %s does not, and sf_tls_ca_cert is not set: this CA was brought '
                                      'earlier or its key was lost. Set sf_tls_ca_cert (and sf_tls_ca_key) again - or, '
                                      'to make a NEW CA that every peer must then import, move %s away'
                         % (files['ca_cert'], files['ca_key'], files['ca_cert']))
            continue
        if sources['cert'] == 'generate':
            # What signs the party certificate: the CA (a file, or the text of sf_tls_ca_cert) and its key (a file, or
            # the text of sf_tls_ca_key - the role reads it from the head's variables, with no_log).
            address = p['external_ip']
            entry['san'] = ('IP:%s' % address) if _is_ip(address) else ('DNS:%s' % address)
            if sources['ca'] == 'generate':
                entry['signer'] = {'host': head, 'ca_var': None, 'ca_path': files['ca_cert'],
                                   'key_var': None, 'key_path': files['ca_key']}
            else:
                ca_path = entry['brought']['sf_tls_ca_cert']['path']
                key_path = entry['brought']['sf_tls_ca_key']['path']
                entry['signer'] = {'host': head, 'ca_var': None if ca_path else 'sf_tls_ca_cert', 'ca_path': ca_path,
                                   'key_var': None if key_path else 'sf_tls_ca_key', 'key_path': key_path}
            entry['current'] = party not in renew and _generated_still_fits(
                files, party, head, address, depth, brought.get('sf_tls_ca_cert'))
        parties[party] = entry

        waiting = set()
        if final and dry:
            if sources['ca'] == 'generate' and not entry['ca_exists']:
                waiting.add('ca')
            if sources['cert'] == 'generate' and (waiting or not entry['current']):
                waiting.add('cert')
            if waiting:
                pending[party] = sorted(waiting)
        ca_material = cert_material = key_material = None
        ca_label = '%s (generated CA)' % files['ca_cert']
        if sources['ca'] == 'brought' or (final and 'ca' not in waiting):
            ca_material, error = _material(brought.get('sf_tls_ca_cert'), 'sf_tls_ca_cert', files['ca_cert'],
                                           sources['ca'] == 'generate', ca_label)
            if error:
                report.error(party, None, error)
        ca_certs = []
        if ca_material is not None:
            ca_certs = check_ca_certificates(report, party, None, ca_material, now, renew_days)
        if 'sf_tls_ca_key' in brought:
            key_value, error = read_value(brought['sf_tls_ca_key'], 'sf_tls_ca_key')
            if error:
                report.error(party, None, error)
            else:
                check_ca_key(report, party, None, key_value, ca_certs)
        cert_ready = sources['cert'] == 'brought' or (final and not waiting)
        if cert_ready:
            generated = sources['cert'] == 'generate'
            cert_material, error = _material(brought.get('sf_tls_cert'), 'sf_tls_cert', files['cert'], generated,
                                             '%s (generated)' % files['cert'])
            if error:
                report.error(party, head, error)
            key_material, error = _material(brought.get('sf_tls_key'), 'sf_tls_key', files['key'], generated,
                                            '%s (generated)' % files['key'])
            if error:
                report.error(party, head, error)
        leaf = None
        if cert_material is not None and key_material is not None:
            leaf = check_party_certificate(report, party, head, p['external_ip'], cert_material, key_material,
                                           ca_certs, depth, now, renew_days)
        if final:
            published[party] = {
                'managed': True, 'head': head, 'address': p['external_ip'], 'pending': sorted(waiting),
                'source': {'ca': sources['ca'], 'cert': sources['cert']},
                'ca_file': files['ca_cert'], 'cert_file': files['cert'], 'key_file': files['key'],
                'ca_pem': ca_material.text if ca_material is not None else None,
                'ca': [describe(c, now) for c in ca_certs],
                'cert_pem': cert_material.text if cert_material is not None else None,
                'cert': describe(leaf, now) if leaf is not None else None,
            }

    peer_entries = {}
    for party in foreign:
        spec = (peers or {}).get(party) or {}
        value = spec.get('ca_cert') if isinstance(spec, dict) else None
        imported = peer_file(tls_dir, party)
        if value not in (None, ''):
            label = 'sf_peer_parties.%s.ca_cert' % party
            material, error = read_value(value, label)
            source = label
        elif os.path.isfile(imported):
            material, error = read_file(imported, '%s (imported)' % imported)
            source = imported
        else:
            material, source = None, None
            error = peer_ca_missing(party, imported)
        peer_entries[party] = {'source': source, 'file': material.path if material is not None else None}
        if error:
            if material is None and source is None and not peers_required:
                report.warn(party, None, error)
            else:
                report.error(party, None, error)
            continue
        ca_certs = check_ca_certificates(report, party, None, material, now, renew_days)
        if final:
            published[party] = {'managed': False, 'source': source, 'ca_file': material.path, 'ca_pem': material.text,
                                'ca': [describe(c, now) for c in ca_certs]}

    if not final:
        report.warnings = []
        return report, {'parties': parties, 'peers': peer_entries}
    return report, {
        'enabled': True, 'verify_depth': depth, 'renew_days': renew_days, 'dir': tls_dir,
        'pending': pending,
        'parties': published,
    }


def summary_lines(tls):
    """One line per party of the published ``sf_tls``: the certificate (serial, fingerprint, expiry) or the CA."""
    lines = []
    for name in sorted(tls.get('parties') or {}):
        p = tls['parties'][name]
        if p.get('managed'):
            cert = p.get('cert')
            if cert is None:
                what = {('ca', 'cert'): 'CA and certificate', ('cert',): 'certificate', ('ca',): 'CA'}.get(
                    tuple(p.get('pending') or ()), 'certificate')
                lines.append('%s: %s to be generated (a dry run: check mode, or tls_generate=false)' % (name, what))
                continue
            lines.append('%s: certificate serial %s for %s, expires %s (%d days), SHA-256 %s; CA %s (%s)'
                         % (name, cert['serial'], ', '.join(cert['san']), cert['not_after'], cert['days_left'],
                            cert['fingerprint'], {'generate': 'generated'}.get(p['source']['ca'], p['source']['ca']),
                            ', '.join(c['fingerprint'] for c in p.get('ca') or []) or 'pending'))
        else:
            lines.append('%s (peer): CA from %s, SHA-256 %s' % (name, p['source'], ', '.join(
                '%s (expires %s)' % (c['fingerprint'], c['not_after']) for c in p.get('ca') or [])))
    return lines


def renewed_lines(renew, layout, tls):
    """``alice: serial OLD -> NEW (expires ...)`` for each renewed party (rotate-certs.yml)."""
    lines = []
    for name in renew:
        before = ((layout or {}).get(name) or {}).get('before') or {}
        entry = (tls.get('parties') or {}).get(name) or {}
        cert = entry.get('cert') or {}
        new = cert.get('serial', 'pending (check mode)')
        if (entry.get('source') or {}).get('cert') == 'brought':
            lines.append('%s: brings its own certificate (sf_tls_cert): serial %s -> %s, copied as it is; renew it '
                         'with its CA, then run rotate-certs.yml again' % (name, before.get('serial', 'none'), new))
            continue
        lines.append('%s: serial %s -> %s (expires %s)' % (name, before.get('serial', 'none'), new,
                                                           cert.get('not_after', '?')))
    return lines


def check_import(plan, tls_dir, party, ca_file, peers, now, renew_days):
    """playbooks/tls-import.yml: a foreign party's CA file, checked before it is copied to
    ``<tls_dir>/peers/<party>-ca.pem``. Returns ``(report, result)`` with ``dest``, ``pem``, ``ca`` and ``summary``."""
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.sfops.secretflow.plugins.module_utils._plan import PARTY_NAME_RE
    report = Report()
    managed = sorted(name for name, p in plan['parties'].items() if p.get('managed'))
    if not party:
        report.error(None, None, '-e party=NAME is required: the foreign party whose CA certificate this is')
    elif not PARTY_NAME_RE.match(party):
        report.error(party, None, 'invalid party name: a lowercase letter first, then lowercase letters, digits or '
                                  '"_", at most 32 characters')
    elif party in managed:
        report.error(party, None, 'is managed by this inventory: its CA is generated or brought here '
                                  '(sf_tls_ca_cert), never imported; import only the CAs of other organisations')
    material = None
    if not ca_file:
        report.error(party or None, None, '-e ca_file=PATH is required: the CA certificate file the party sent you')
    else:
        material, error = read_file(os.path.expanduser(ca_file), 'ca_file (%s)' % ca_file)
        if error:
            report.error(party or None, None, error)
    certs = check_ca_certificates(report, party or None, None, material, now, renew_days) if material else []
    if report.errors:
        return report, {}
    dest = peer_file(tls_dir, party)
    if party not in plan['parties']:
        report.warn(party, None, 'is not declared in sf_peer_parties yet: add it (external_ip, fed_port, spu_port) '
                                 'to group_vars/all to deploy with it')
    spec = (peers or {}).get(party)
    if isinstance(spec, dict) and spec.get('ca_cert'):
        report.warn(party, None, 'sf_peer_parties.%s.ca_cert is set: it takes precedence over the imported file; '
                                 'remove it to use %s' % (party, dest))
    summary = ['%s: %s' % (dest, 'the CA certificate of party %s' % party)]
    old = _existing_info(dest, now)
    if old is not None:
        summary.append('replaces the one imported earlier (SHA-256 %s)' % old['fingerprint'])
    for cert in certs:
        info = describe(cert, now)
        summary.append('%s  SHA-256 %s  (expires %s)' % (info['subject'], info['fingerprint'], info['not_after']))
    summary.append('Compare the fingerprint with the one the organisation of %s tells you (phone, not e-mail) BEFORE '
                   'the next deployment.' % party)
    pem = ''.join(block for kind, block in [(k, b + '\n') for k, b in pem_blocks(material.text)]
                  if kind in ('CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE'))
    return report, {'dest': dest, 'pem': pem, 'ca': [describe(c, now) for c in certs], 'summary': summary}
