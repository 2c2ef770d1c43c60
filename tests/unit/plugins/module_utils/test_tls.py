# -*- coding: utf-8 -*-
"""Unit tests of plugins/module_utils/_tls.py: every bad-certificate case of the design's "Validation" rules, with
certificates made by cryptography in the tests, and the helpers the tls role publishes from."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization

from ansible_collections.sfops.secretflow.plugins.module_utils import _tls as tlslib
from ansible_collections.sfops.secretflow.tests.unit.tls_testing import (
    NOW, Party, cert_pem, key_pem, make_cert, new_key)

DAY = datetime.timedelta(days=1)
WHERE = "party 'alice', host 'alice-1': "


@pytest.fixture(scope='module', name='alice')
def alice_fixture():
    return Party('alice', '203.0.113.10')


def material(label, text):
    return tlslib.Material(label, text)


def check(party, cert=None, key=None, ca=None, address=None, depth=2, renew_days=30, now=None):
    """Run the checks of a managed party as the tls_check action does; returns the Report."""
    report = tlslib.Report()
    now = now or NOW
    ca = cert_pem(party.ca) if ca is None else ca
    cert = cert_pem(party.cert) if cert is None else cert
    key = key_pem(party.key) if key is None else key
    ca_certs = tlslib.check_ca_certificates(report, 'alice', None, material('sf_tls_ca_cert', ca), now, renew_days)
    tlslib.check_party_certificate(report, 'alice', 'alice-1', address or party.address,
                                   material('sf_tls_cert', cert), material('sf_tls_key', key), ca_certs, depth, now,
                                   renew_days)
    return report


def only_error(report, *needles):
    assert len(report.errors) == 1, report.errors
    for needle in needles:
        assert needle in report.errors[0], (needle, report.errors[0])
    return report.errors[0]


def test_good_party_has_no_errors_and_no_warnings(alice):
    report = check(alice)
    assert report.errors == [] and report.warnings == []


# ---------------------------------------------------------------- the CA


@pytest.mark.parametrize('ca_flag', [False, None], ids=['CA:FALSE', 'no basicConstraints'])
def test_ca_without_ca_true(alice, ca_flag):
    key = new_key()
    not_a_ca = make_cert('alice SecretFlow CA', key, ca=ca_flag, key_cert_sign=True)
    cert, leaf_key = make_cert('alice', new_key(), issuer=not_a_ca, issuer_key=key, san=['IP:203.0.113.10']), None
    del leaf_key
    report = tlslib.Report()
    certs = tlslib.check_ca_certificates(report, 'alice', None, material('sf_tls_ca_cert', cert_pem(not_a_ca)), NOW, 30)
    assert len(certs) == 1 and cert is not None
    only_error(report, "party 'alice': sf_tls_ca_cert: is not a CA certificate", 'CA:TRUE')


def test_ca_whose_key_usage_cannot_sign():
    key = new_key()
    ca = make_cert('x CA', key, ca=True, key_cert_sign=False)
    report = tlslib.Report()
    tlslib.check_ca_certificates(report, 'alice', None, material('sf_tls_ca_cert', cert_pem(ca)), NOW, 30)
    only_error(report, 'sf_tls_ca_cert', 'keyCertSign')


def test_expired_ca():
    key = new_key()
    ca = make_cert('old CA', key, ca=True, not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    report = tlslib.Report()
    tlslib.check_ca_certificates(report, 'bob', None, material('sf_peer_parties.bob.ca_cert', cert_pem(ca)), NOW, 30)
    only_error(report, "party 'bob': sf_peer_parties.bob.ca_cert: the CA certificate expired on")


def test_ca_bundle_names_the_bad_certificate(alice):
    key = new_key()
    not_a_ca = make_cert('intruder', key, ca=False, key_cert_sign=True)
    report = tlslib.Report()
    certs = tlslib.check_ca_certificates(report, 'bob', None,
                                         material('sf_peer_parties.bob.ca_cert', cert_pem(alice.ca, not_a_ca)), NOW, 30)
    assert len(certs) == 2
    only_error(report, 'certificate #2 (CN=intruder)', 'is not a CA certificate')


# ---------------------------------------------------------------- chain


def test_certificate_from_another_ca(alice):
    mallory = Party('alice', alice.address)       # same names, other keys: the signature decides
    report = check(alice, cert=cert_pem(mallory.cert), key=key_pem(mallory.key))
    error = only_error(report, WHERE + 'sf_tls_cert: is not signed by the party\'s CA', 'unknown CA')
    assert 'CN=alice SecretFlow CA' in error


def test_certificate_from_a_second_ca_of_a_bundle(alice):
    new = Party('alice', alice.address)
    # CA rotation: the party's bundle holds the new CA and the old one; a certificate from either is fine
    assert check(alice, ca=cert_pem(new.ca, alice.ca)).errors == []
    assert check(new, ca=cert_pem(new.ca, alice.ca)).errors == []


def test_chain_with_an_intermediate_needs_depth_two(alice):
    mid_key = new_key()
    mid = make_cert('alice issuing CA', mid_key, issuer=alice.ca, issuer_key=alice.ca_key, ca=True)
    leaf_key = new_key()
    leaf = make_cert('alice', leaf_key, issuer=mid, issuer_key=mid_key, san=['IP:%s' % alice.address])
    chain = cert_pem(leaf, mid)
    assert check(alice, cert=chain, key=key_pem(leaf_key), depth=2).errors == []
    only_error(check(alice, cert=chain, key=key_pem(leaf_key), depth=1),
               'through 1 intermediate CA(s), more than sf_tls_verify_depth=1 allows (0)')
    # without the intermediate in the file the chain does not reach the CA
    only_error(check(alice, cert=cert_pem(leaf), key=key_pem(leaf_key)), "is not signed by the party's CA")


def test_intermediate_that_is_not_a_ca(alice):
    mid_key = new_key()
    mid = make_cert('alice leaf-as-issuer', mid_key, issuer=alice.ca, issuer_key=alice.ca_key, ca=False,
                    san=['IP:%s' % alice.address])
    leaf_key = new_key()
    leaf = make_cert('alice', leaf_key, issuer=mid, issuer_key=mid_key, san=['IP:%s' % alice.address])
    only_error(check(alice, cert=cert_pem(leaf, mid), key=key_pem(leaf_key)),
               'the certificate after the first (CN=alice leaf-as-issuer) is not a CA certificate')


# ---------------------------------------------------------------- SAN


def test_san_of_another_address(alice):
    cert, key = alice.issue(san=['IP:203.0.113.99'])
    error = only_error(check(alice, cert=cert_pem(cert), key=key_pem(key)),
                       WHERE + 'sf_tls_cert: its subject alternative names (IP:203.0.113.99) do not cover',
                       '203.0.113.10', "sf_external_ip", 'name mismatch')
    assert 'common name' not in error


def test_ip_address_in_a_dns_san(alice):
    cert, key = alice.issue(san=['DNS:203.0.113.10'])
    only_error(check(alice, cert=cert_pem(cert), key=key_pem(key)), 'must be an IP SAN ("IP:203.0.113.10")')


def test_address_only_in_the_common_name(alice):
    cert, key = alice.issue(cn='203.0.113.10', san=[])
    only_error(check(alice, cert=cert_pem(cert), key=key_pem(key)), 'no subject alternative name at all',
               'only in its CN', 'never use the common name')


@pytest.mark.parametrize('san,address,ok', [
    (['DNS:sf.alice.example.org'], 'sf.alice.example.org', True),
    (['DNS:SF.Alice.Example.org'], 'sf.alice.example.org', True),
    (['DNS:*.alice.example.org'], 'sf.alice.example.org', True),
    (['DNS:*.alice.example.org'], 'a.sf.alice.example.org', False),
    (['DNS:*.example.org'], 'example.org', False),
    (['DNS:other.example.org'], 'sf.alice.example.org', False),
    (['IP:203.0.113.10'], 'sf.alice.example.org', False),
    (['IP:2001:db8::10'], '2001:db8:0::10', True),
    (['DNS:sf.alice.example.org', 'IP:203.0.113.10'], '203.0.113.10', True),
])
def test_san_matching(alice, san, address, ok):
    cert, key = alice.issue(san=san)
    report = check(alice, cert=cert_pem(cert), key=key_pem(key), address=address)
    assert (report.errors == []) is ok, report.errors


# ---------------------------------------------------------------- EKU


@pytest.mark.parametrize('eku,missing', [(('server',), 'lacks clientAuth'), (('client',), 'lacks serverAuth'),
                                         (None, 'extension is absent, so it lacks serverAuth and clientAuth')])
def test_extended_key_usage_needs_both(alice, eku, missing):
    cert, key = alice.issue(eku=eku)
    only_error(check(alice, cert=cert_pem(cert), key=key_pem(key)), WHERE + 'sf_tls_cert: its extended key usage',
               missing)


# ---------------------------------------------------------------- validity


def test_not_yet_valid(alice):
    cert, key = alice.issue(not_before=NOW + 2 * DAY, not_after=NOW + 300 * DAY)
    only_error(check(alice, cert=cert_pem(cert), key=key_pem(key)), WHERE + 'sf_tls_cert: the party certificate is '
               'not valid yet', "controller's clock")


def test_expired(alice):
    cert, key = alice.issue(not_before=NOW - 400 * DAY, not_after=NOW - 2 * DAY)
    only_error(check(alice, cert=cert_pem(cert), key=key_pem(key)), WHERE + 'sf_tls_cert: the party certificate '
               'expired on')


def test_expiring_soon_is_a_warning(alice):
    cert, key = alice.issue(not_after=NOW + 10 * DAY + datetime.timedelta(hours=1))
    report = check(alice, cert=cert_pem(cert), key=key_pem(key), renew_days=30)
    assert report.errors == []
    assert len(report.warnings) == 1, report.warnings
    assert report.warnings[0].startswith(WHERE + 'sf_tls_cert: the party certificate expires in 10 day(s)')
    assert 'sf_tls_renew_days=30' in report.warnings[0]
    assert check(alice, cert=cert_pem(cert), key=key_pem(key), renew_days=10).warnings == []


# ---------------------------------------------------------------- keys and PEM


def test_key_of_another_certificate(alice):
    only_error(check(alice, key=key_pem(new_key())), WHERE + 'sf_tls_cert: does not match its private key sf_tls_key')


@pytest.mark.parametrize('traditional', [False, True], ids=['PKCS#8', 'traditional'])
def test_encrypted_key(alice, traditional):
    if traditional:
        text = alice.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.BestAvailableEncryption(b'secret')).decode()
        assert 'Proc-Type: 4,ENCRYPTED' in text
    else:
        text = key_pem(alice.key, passphrase=b'secret')
    only_error(check(alice, key=text), WHERE + 'sf_tls_key: is encrypted', 'cannot load encrypted keys',
               'Ansible Vault')


@pytest.mark.parametrize('text,needle', [
    ('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n', 'certificate #1 cannot be parsed'),
    ('hello', 'no PEM certificate in it'),
    ('', 'no PEM certificate in it'),
])
def test_unparsable_certificate(alice, text, needle):
    only_error(check(alice, cert=text), WHERE + 'sf_tls_cert: ' + needle)


@pytest.mark.parametrize('text,needle', [
    ('-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n', 'the private key cannot be parsed'),
    ('-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n', 'no PEM private key in it'),
])
def test_unparsable_key(alice, text, needle):
    only_error(check(alice, key=text), WHERE + 'sf_tls_key: ' + needle)


def test_two_keys_in_one_value(alice):
    only_error(check(alice, key=key_pem(alice.key) + key_pem(new_key())), 'holds 2 private keys')


def test_certificate_with_its_key_in_the_same_value(alice):
    only_error(check(alice, cert=cert_pem(alice.cert) + key_pem(alice.key)), 'sf_tls_cert: holds a private key')


def test_unparsable_ca_stops_only_the_chain_check(alice):
    report = check(alice, ca='-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
    only_error(report, "party 'alice': sf_tls_ca_cert: certificate #1 cannot be parsed")


def test_every_problem_at_once(alice):
    cert, _key = alice.issue(san=['IP:10.9.9.9'], eku=('server',), not_before=NOW - 400 * DAY,
                             not_after=NOW - DAY)
    report = check(alice, cert=cert_pem(cert), key=key_pem(new_key()))
    assert len(report.errors) == 4, report.errors
    joined = '\n'.join(report.errors)
    for needle in ('does not match its private key', 'do not cover', 'lacks clientAuth', 'expired on'):
        assert needle in joined, needle


# ---------------------------------------------------------------- CA key (signing here)


def test_ca_key_must_be_the_first_ca_certificates_key(alice):
    other = Party('other', '203.0.113.11')
    report = tlslib.Report()
    certs = tlslib.check_ca_certificates(report, 'alice', None, material('sf_tls_ca_cert', cert_pem(alice.ca)), NOW,
                                         30)
    assert tlslib.check_ca_key(report, 'alice', None, material('sf_tls_ca_key', key_pem(alice.ca_key)), certs)
    assert report.errors == []
    tlslib.check_ca_key(report, 'alice', None, material('sf_tls_ca_key', key_pem(other.ca_key)), certs)
    only_error(report, "party 'alice': sf_tls_ca_key: is not the key of the CA certificate CN=alice SecretFlow CA")


def test_encrypted_ca_key(alice):
    report = tlslib.Report()
    assert tlslib.check_ca_key(report, 'alice', None, material('sf_tls_ca_key', key_pem(alice.ca_key, b'pw')),
                               []) is None
    only_error(report, 'sf_tls_ca_key: is encrypted')


# ---------------------------------------------------------------- bring your own: combinations


@pytest.mark.parametrize('brought,expected', [
    ((), {'ca': 'generate', 'cert': 'generate'}),
    (('sf_tls_ca_cert', 'sf_tls_ca_key'), {'ca': 'brought', 'cert': 'generate'}),
    (('sf_tls_ca_cert', 'sf_tls_cert', 'sf_tls_key'), {'ca': 'brought', 'cert': 'brought'}),
    (tlslib.BYO_VARS, {'ca': 'brought', 'cert': 'brought'}),
])
def test_byo_combinations_that_work(brought, expected):
    report = tlslib.Report()
    assert tlslib.byo_plan(report, 'alice', brought) == expected
    assert report.errors == []


@pytest.mark.parametrize('brought,needle', [
    (('sf_tls_ca_cert', 'sf_tls_cert'), 'sf_tls_cert is set but sf_tls_key is not'),
    (('sf_tls_ca_cert', 'sf_tls_ca_key', 'sf_tls_key'), 'sf_tls_key is set but sf_tls_cert is not'),
    (('sf_tls_cert', 'sf_tls_key'), 'sf_tls_cert is set but sf_tls_ca_cert is not'),
    (('sf_tls_ca_cert',), 'sf_tls_ca_cert is set without sf_tls_ca_key and without sf_tls_cert'),
    (('sf_tls_ca_key',), 'sf_tls_ca_key is set but sf_tls_ca_cert is not'),
])
def test_byo_combinations_that_do_not(brought, needle):
    report = tlslib.Report()
    assert tlslib.byo_plan(report, 'alice', brought) is None
    only_error(report, "party 'alice': " + needle)


# ---------------------------------------------------------------- values: PEM text or a controller path


def test_read_value_pem_text_and_path(tmp_path, alice):
    pem = cert_pem(alice.ca)
    got, error = tlslib.read_value('\n  ' + pem, 'sf_tls_ca_cert')
    assert error is None and got.text.startswith('-----BEGIN CERTIFICATE-----') and got.path is None
    assert got.label == 'sf_tls_ca_cert'
    path = tmp_path / 'ca.pem'
    path.write_text(pem)
    got, error = tlslib.read_value(str(path), 'sf_tls_ca_cert')
    assert error is None and got.text == pem and got.path == str(path)
    assert got.label == 'sf_tls_ca_cert (%s)' % path


def test_read_value_problems(tmp_path):
    binary = tmp_path / 'ca.der'
    binary.write_bytes(b'\x30\x82\x01\xff\xfe')
    cases = [(str(tmp_path / 'nope.pem'), 'no such file on the controller'),
             ('certs/ca.pem', 'nor an absolute path'),
             ('', 'got an empty value'),
             (42, 'got int'),
             (str(binary), 'DER files must be converted to PEM')]
    for value, needle in cases:
        got, error = tlslib.read_value(value, 'sf_tls_cert')
        assert got is None and error.startswith('sf_tls_cert') and needle in error, (value, error)


def test_material_repr_never_shows_the_text(alice):
    assert 'BEGIN' not in repr(tlslib.Material('sf_tls_key', key_pem(alice.key)))


# ---------------------------------------------------------------- what the role publishes


def test_describe(alice):
    info = tlslib.describe(alice.cert, NOW)
    assert info['serial'] == '%x' % alice.cert.serial_number
    assert info['fingerprint'] == ':'.join('%02X' % b for b in alice.cert.fingerprint(hashes.SHA256()))
    assert info['san'] == ['IP:203.0.113.10']
    assert info['days_left'] in (364, 365)
    assert info['not_after'].endswith('Z') and info['subject'] == 'CN=alice'
    assert info['issuer'] == 'CN=alice SecretFlow CA'


def test_days_left_counts_whole_days(alice):
    cert, _key = alice.issue(not_after=NOW + 2 * DAY - datetime.timedelta(minutes=1))
    assert tlslib.days_left(cert, NOW) == 1
    assert tlslib.days_left(cert, NOW + 3 * DAY) == -2


def test_peer_ca_missing_says_how_to_import():
    text = tlslib.peer_ca_missing('bob', '/tls/peers/bob-ca.pem')
    for needle in ('sf_peer_parties.bob.ca_cert', '/tls/peers/bob-ca.pem', 'playbooks/tls-import.yml -e party=bob',
                   'fingerprint'):
        assert needle in text


def test_cryptography_is_there():
    assert tlslib.cryptography_error() is None


# ---------------------------------------------------------------- examine(): the whole deployment, on files


def plan_of(**peers):
    parties = {
        'alice': {'managed': True, 'head': 'alice-1', 'external_ip': '203.0.113.10'},
        'bob': {'managed': True, 'head': 'bob-1', 'external_ip': 'bob.example.org'},
    }
    for name in peers:
        parties[name] = {'managed': False, 'external_ip': '198.51.100.3'}
    return {'parties': parties, 'tls': {'enabled': True, 'verify_depth': 2}}


def write_party(tls_dir, party, with_ca_key=True):
    os_dir = tls_dir / party.name
    os_dir.mkdir(parents=True)
    (os_dir / 'ca.pem').write_text(cert_pem(party.ca))
    if with_ca_key:
        (os_dir / 'ca.key').write_text(key_pem(party.ca_key))
    (os_dir / 'cert.pem').write_text(cert_pem(party.cert))
    (os_dir / 'key.pem').write_text(key_pem(party.key))


def test_examine_layout_of_a_fresh_directory(tmp_path):
    report, layout = tlslib.examine('layout', plan_of(), str(tmp_path / 'tls'), {}, {}, NOW, 30)
    assert report.errors == [] and report.warnings == []
    alice = layout['parties']['alice']
    assert (alice['ca'], alice['cert'], alice['current'], alice['ca_exists'], alice['dir_exists']) == (
        'generate', 'generate', False, False, False)
    assert alice['san'] == 'IP:203.0.113.10' and layout['parties']['bob']['san'] == 'DNS:bob.example.org'
    assert alice['signer'] == {'host': 'alice-1', 'ca_var': None, 'ca_path': str(tmp_path / 'tls/alice/ca.pem'),
                               'key_var': None, 'key_path': str(tmp_path / 'tls/alice/ca.key')}
    assert alice['before'] is None


def test_examine_final_publishes_and_the_fast_path_sees_current_material(tmp_path):
    alice, bob, carol = Party('alice', '203.0.113.10'), Party('bob', 'bob.example.org'), Party('carol', '198.51.100.3')
    tls_dir = tmp_path / 'tls'
    write_party(tls_dir, alice)
    write_party(tls_dir, bob)
    (tls_dir / 'peers').mkdir()
    (tls_dir / 'peers' / 'carol-ca.pem').write_text(cert_pem(carol.ca))
    report, layout = tlslib.examine('layout', plan_of(carol=1), str(tls_dir), {}, {}, NOW, 30)
    assert report.errors == []
    assert layout['parties']['alice']['current'] and layout['parties']['alice']['before']['serial'] == (
        '%x' % alice.cert.serial_number)
    assert layout['peers']['carol'] == {'source': str(tls_dir / 'peers/carol-ca.pem'),
                                        'file': str(tls_dir / 'peers/carol-ca.pem')}
    report, tls = tlslib.examine('final', plan_of(carol=1), str(tls_dir), {}, {}, NOW, 30)
    assert report.errors == [] and report.warnings == []
    assert tls['parties']['alice']['cert']['fingerprint'] == tlslib.fingerprint(alice.cert)
    assert tls['parties']['alice']['key_file'] == str(tls_dir / 'alice/key.pem')
    assert tls['parties']['carol']['ca_pem'] == cert_pem(carol.ca)
    lines = tlslib.summary_lines(tls)
    assert lines[0].startswith('alice: certificate serial %x for IP:203.0.113.10' % alice.cert.serial_number)
    expected = 'carol (peer): CA from %s, SHA-256 %s' % (tls_dir / 'peers/carol-ca.pem', tlslib.fingerprint(carol.ca))
    assert lines[2].startswith(expected)
    # another address: the certificate no longer fits, the role re-signs it
    plan = plan_of(carol=1)
    plan['parties']['alice']['external_ip'] = '203.0.113.99'
    _report, layout = tlslib.examine('layout', plan, str(tls_dir), {}, {}, NOW, 30)
    assert not layout['parties']['alice']['current'] and layout['parties']['bob']['current']
    # renewing: never "current"; an unknown or foreign party cannot be renewed
    report, layout = tlslib.examine('layout', plan_of(carol=1), str(tls_dir), {}, {}, NOW, 30,
                                    renew=['alice', 'carol', 'dave'])
    assert not layout['parties']['alice']['current'] and layout['parties']['alice']['renew']
    assert sorted(report.errors) == [
        "deployment: parties: 'dave' is not a party of this deployment (managed here: alice, bob)",
        "party 'carol': parties: a peer party (sf_peer_parties): its own organisation renews its certificate"]
    renewed = tlslib.renewed_lines(['alice'], {'alice': {'before': {'serial': 'old1'}}}, tls)
    assert renewed == ['alice: serial old1 -> %x (expires %s)' % (alice.cert.serial_number,
                                                                  tls['parties']['alice']['cert']['not_after'])]


def test_examine_a_generated_ca_without_its_key(tmp_path):
    write_party(tmp_path, Party('alice', '203.0.113.10'), with_ca_key=False)
    report, _layout = tlslib.examine('layout', plan_of(), str(tmp_path), {}, {}, NOW, 30)
    expected = "party 'alice': %s exists but %s does not" % (tmp_path / 'alice/ca.pem', tmp_path / 'alice/ca.key')
    only_error(report, expected, 'move')


def test_examine_dry_run_publishes_what_it_would_generate(tmp_path):
    report, tls = tlslib.examine('final', plan_of(), str(tmp_path), {}, {}, NOW, 30, dry=True)
    assert report.errors == []
    assert tls['pending'] == {'alice': ['ca', 'cert'], 'bob': ['ca', 'cert']}
    assert tls['parties']['alice']['cert'] is None and tls['parties']['alice']['pending'] == ['ca', 'cert']
    assert tlslib.summary_lines(tls)[0] == 'alice: CA and certificate to be generated (a dry run: check mode, or ' \
                                           'tls_generate=false)'
    # after a real run the same directory without the files is an error
    report, _tls = tlslib.examine('final', plan_of(), str(tmp_path), {}, {}, NOW, 30)
    assert any('alice/ca.pem (generated CA): no such file on the controller' in e for e in report.errors)
    # with the material there: nothing pending - but a certificate that no longer fits, or is renewed, is
    alice = Party('alice', '203.0.113.10')
    write_party(tmp_path, alice)
    write_party(tmp_path, Party('bob', 'bob.example.org'))
    report, tls = tlslib.examine('final', plan_of(), str(tmp_path), {}, {}, NOW, 30, dry=True)
    assert report.errors == [] and tls['pending'] == {}
    plan = plan_of()
    plan['parties']['alice']['external_ip'] = '203.0.113.99'
    report, tls = tlslib.examine('final', plan, str(tmp_path), {}, {}, NOW, 30, dry=True, renew=['bob'])
    assert report.errors == [] and tls['pending'] == {'alice': ['cert'], 'bob': ['cert']}
    assert tls['parties']['alice']['ca'][0]['fingerprint'] == tlslib.fingerprint(alice.ca)   # the CA is checked


def test_an_expired_generated_certificate_is_not_pending_but_an_error(tmp_path):
    alice = Party('alice', '203.0.113.10', not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    write_party(tmp_path, alice)
    write_party(tmp_path, Party('bob', 'bob.example.org'))
    report, layout = tlslib.examine('layout', plan_of(), str(tmp_path), {}, {}, NOW, 30)
    assert layout['parties']['alice']['current']      # community.crypto would not re-sign it either
    report, _tls = tlslib.examine('final', plan_of(), str(tmp_path), {}, {}, NOW, 30, dry=True)
    only_error(report, "party 'alice', host 'alice-1': %s (generated): the party certificate expired on"
               % (tmp_path / 'alice/cert.pem'))


def test_examine_brought_material_signer_and_copies(tmp_path):
    org = Party('alice', '203.0.113.10')
    ca_path = tmp_path / 'ca.pem'
    ca_path.write_text(cert_pem(org.ca))
    byo = {'alice': {'sf_tls_ca_cert': str(ca_path), 'sf_tls_ca_key': key_pem(org.ca_key), 'sf_tls_cert': None}}
    report, layout = tlslib.examine('layout', plan_of(), str(tmp_path / 'tls'), byo, {}, NOW, 30)
    assert report.errors == []
    alice = layout['parties']['alice']
    assert (alice['ca'], alice['cert']) == ('brought', 'generate')
    assert alice['brought'] == {'sf_tls_ca_cert': {'path': str(ca_path), 'file': str(tmp_path / 'tls/alice/ca.pem')},
                                'sf_tls_ca_key': {'path': None, 'file': None}}
    assert alice['signer'] == {'host': 'alice-1', 'ca_var': None, 'ca_path': str(ca_path),
                               'key_var': 'sf_tls_ca_key', 'key_path': None}
    assert 'BEGIN' not in repr(layout)    # no key (nor certificate) text in what the role gets back
    # the same CA key with another CA: refused before anything is generated
    byo['alice']['sf_tls_ca_key'] = key_pem(new_key())
    report, _layout = tlslib.examine('layout', plan_of(), str(tmp_path / 'tls'), byo, {}, NOW, 30)
    only_error(report, "party 'alice': sf_tls_ca_key: is not the key of the CA certificate")


def test_examine_peer_sources(tmp_path):
    carol = Party('carol', '198.51.100.3')
    report, layout = tlslib.examine('layout', plan_of(carol=1), str(tmp_path), {}, {
        'carol': {'ca_cert': cert_pem(carol.ca)}}, NOW, 30)
    assert report.errors == []
    assert layout['peers']['carol'] == {'source': 'sf_peer_parties.carol.ca_cert', 'file': None}
    report, _layout = tlslib.examine('layout', plan_of(carol=1), str(tmp_path), {}, {}, NOW, 30)
    only_error(report, "party 'carol': sf_peer_parties.carol.ca_cert is not set")
    report, _layout = tlslib.examine('final', plan_of(carol=1), str(tmp_path), {}, {}, NOW, 30, dry=True,
                                     peers_required=False)
    assert report.errors == [] and len(report.warnings) == 1 and 'carol' in report.warnings[0]


def test_check_import(tmp_path):
    carol = Party('carol', '198.51.100.3')
    (tmp_path / 'ca.pem').write_text('garbage before\n' + cert_pem(carol.ca))
    report, result = tlslib.check_import(plan_of(carol=1), str(tmp_path / 'tls'), 'carol', str(tmp_path / 'ca.pem'),
                                         {}, NOW, 30)
    assert report.errors == [] and report.warnings == []
    assert result['dest'] == str(tmp_path / 'tls/peers/carol-ca.pem')
    assert result['pem'] == cert_pem(carol.ca)           # only the certificate blocks are kept
    assert any(tlslib.fingerprint(carol.ca) in line for line in result['summary'])
    # not declared yet, and an inventory ca_cert that would win: warnings
    report, _result = tlslib.check_import(plan_of(), str(tmp_path / 'tls'), 'carol', str(tmp_path / 'ca.pem'),
                                          {'carol': {'ca_cert': '/x.pem'}}, NOW, 30)
    assert len(report.warnings) == 2 and report.errors == []
    for party, needle in (('', '-e party=NAME is required'), ('Carol', 'invalid party name'),
                          ('alice', 'is managed by this inventory')):
        report, _result = tlslib.check_import(plan_of(), str(tmp_path), party, str(tmp_path / 'ca.pem'), {}, NOW, 30)
        only_error(report, needle)
