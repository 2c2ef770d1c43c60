# -*- coding: utf-8 -*-
"""The TLS playbooks run for real on the controller: playbooks/tls.yml (generate, check, publish sf_tls),
tls-export.yml, tls-import.yml, rotate-certs.yml (its controller half), the TLS-off warning and preflight's expiry
checks.

Real ansible-playbook runs against an inventory of 127.0.0.x port 1 in a temporary directory (sf_tls_dir defaults to
<inventory_dir>/credentials/tls): whatever touches a server ends as UNREACHABLE, so these tests also show that the
TLS material is made and checked without any host.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import textwrap

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ansible_collections.sfops.secretflow.tests.unit.playbook_runs import (
    PLAYBOOK_BIN, ROOT, needs_playbook, playbook_env, recap, run_playbook)
from ansible_collections.sfops.secretflow.tests.unit.tls_testing import (
    NOW, Party, cert_pem, key_pem, make_cert, new_key)

pytestmark = needs_playbook

INVENTORY = """
all:
  vars:
    ansible_port: 1
  children:
    secretflow:
      children:
        alice:
          hosts:
            alice-1: {ansible_host: 127.0.0.11, sf_ray_role: head, sf_node_id: alice-head, sf_external_ip: 203.0.113.10}
            alice-2: {ansible_host: 127.0.0.12, sf_node_id: alice-w1}
        bob:
          hosts:
            bob-1: {ansible_host: 127.0.0.21, sf_ray_role: head, sf_node_id: bob-head, sf_external_ip: bob.example.org}
"""
# Writes the published fact of every host to <dir>/facts/<host>.json.
SHOW = """
- import_playbook: {root}/playbooks/tls.yml
- hosts: secretflow
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        content: "{{{{ sf_tls | to_json }}}}"
        dest: "{facts}/{{{{ inventory_hostname }}}}.json"
        mode: "0600"
      delegate_to: localhost
      changed_when: false
      check_mode: false
"""


class Inv(object):
    """A test inventory in ``path`` (hosts.yml + group_vars) and its TLS directory."""

    def __init__(self, path, inventory=INVENTORY, group_vars=None):
        self.path = str(path)
        self.tls = os.path.join(self.path, 'credentials', 'tls')
        with open(os.path.join(self.path, 'hosts.yml'), 'w') as handle:
            handle.write(textwrap.dedent(inventory))
        os.makedirs(os.path.join(self.path, 'group_vars'), exist_ok=True)
        for group, text in (group_vars or {}).items():
            self.group_vars(group, text)
        self.show = os.path.join(self.path, 'show.yml')
        self.facts = os.path.join(self.path, 'facts')
        os.makedirs(self.facts, exist_ok=True)
        with open(self.show, 'w') as handle:
            handle.write(textwrap.dedent(SHOW).format(root=ROOT, facts=self.facts))

    def copy_material(self, other, parties=('alice', 'bob')):
        """Start from what ``other`` (an Inv) generated for ``parties`` - one generation for several tests."""
        for party in parties:
            shutil.copytree(os.path.join(other.tls, party), os.path.join(self.tls, party))
        os.chmod(self.tls, 0o700)   # as the role makes it

    def group_vars(self, group, text):
        with open(os.path.join(self.path, 'group_vars', group + '.yml'), 'w') as handle:
            handle.write(textwrap.dedent(text))

    def run(self, playbook, *args, **kwargs):
        return run_playbook(playbook, os.path.join(self.path, 'hosts.yml'), args, **kwargs)

    def files(self):
        """relative path -> (sha256, mode) of everything under the TLS directory."""
        out = {}
        for base, _dirs, names in os.walk(self.tls):
            for name in names:
                full = os.path.join(base, name)
                with open(full, 'rb') as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                out[os.path.relpath(full, self.tls)] = (digest, stat.S_IMODE(os.stat(full).st_mode))
        return out

    def cert(self, party, name='cert.pem'):
        with open(os.path.join(self.tls, party, name), 'rb') as handle:
            return x509.load_pem_x509_certificates(handle.read())

    def published(self):
        """host -> the sf_tls fact SHOW wrote (and removes the files, for the next run)."""
        out = {}
        for name in sorted(os.listdir(self.facts)):
            path = os.path.join(self.facts, name)
            with open(path) as handle:
                out[name[:-len('.json')]] = json.load(handle)
            os.remove(path)
        return out


def sha256(cert):
    return ':'.join('%02X' % b for b in cert.fingerprint(hashes.SHA256()))


def changed(out):
    return sum(row['changed'] for row in recap(out).values())


def flat(out):
    """The output on one line, with the YAML callback's doubled quotes undone."""
    return ' '.join(out.split()).replace("''", "'")


# ---------------------------------------------------------------- generate, idempotent, check mode


@pytest.fixture(scope='module', name='generated')
def generated_fixture(tmp_path_factory):
    """The test inventory after its first tls.yml run (with -v): (inv, rc, output). Tests copy its material."""
    inv = Inv(tmp_path_factory.mktemp('generated'))
    rc, out = inv.run(inv.show, '-v')
    return inv, rc, out


def test_generates_then_changes_nothing(generated):
    inv, rc, out = generated
    assert rc == 0, out
    assert changed(out) > 0
    files = inv.files()
    assert sorted(files) == ['alice/ca.key', 'alice/ca.pem', 'alice/cert.pem', 'alice/key.pem',
                             'bob/ca.key', 'bob/ca.pem', 'bob/cert.pem', 'bob/key.pem']
    for name, (_digest, mode) in files.items():
        assert mode == (0o600 if name.endswith('.key') or name.endswith('key.pem') else 0o644), name
    for path in (inv.tls, os.path.join(inv.tls, 'alice')):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert 'PRIVATE KEY' not in out        # not even with -v

    # the certificates are what the design says
    alice, = inv.cert('alice')
    ca, = inv.cert('alice', 'ca.pem')
    assert alice.issuer == ca.subject
    assert alice.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.IPAddress)[0].exploded == '203.0.113.10'
    bob, = inv.cert('bob')
    assert bob.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ['bob.example.org']
    eku = [o.dotted_string for o in alice.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value]
    assert sorted(eku) == ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    with pytest.raises(x509.ExtensionNotFound):   # no name constraints: gRPC would refuse IP SANs under them
        ca.extensions.get_extension_for_class(x509.NameConstraints)

    # published on every host, the same, with paths and certificates but no key
    facts = inv.published()
    assert sorted(facts) == ['alice-1', 'alice-2', 'bob-1']
    tls = facts['bob-1']
    assert facts['alice-1'] == tls
    assert tls['enabled'] is True and tls['verify_depth'] == 2 and tls['renew_days'] == 30 and tls['pending'] == {}
    entry = tls['parties']['alice']
    assert entry['key_file'] == os.path.join(inv.tls, 'alice', 'key.pem')
    assert entry['cert']['serial'] == '%x' % alice.serial_number
    assert entry['cert']['san'] == ['IP:203.0.113.10'] and entry['cert']['days_left'] >= 363
    assert entry['cert_pem'].startswith('-----BEGIN CERTIFICATE-----')
    assert entry['source'] == {'ca': 'generate', 'cert': 'generate'}
    assert 'PRIVATE' not in json.dumps(tls)

    rc, out = inv.run(inv.show)
    assert rc == 0, out
    assert changed(out) == 0, out
    assert inv.files() == files


def test_check_mode_writes_nothing(tmp_path, generated):
    inv = Inv(tmp_path)
    rc, out = inv.run(inv.show, '--check')
    assert rc == 0, out
    assert not os.path.exists(inv.tls)
    assert changed(out) == 1, out        # "what a dry run would generate"
    assert 'alice: CA and certificate to be generated' in out
    # preflight.yml's way (tls_generate false): the same, but nothing reported as changed
    rc, out = inv.run('playbooks/tls.yml', '-e', 'tls_generate=false')
    assert rc == 0 and changed(out) == 0, out
    assert not os.path.exists(inv.tls)
    tls = inv.published()['alice-1']
    assert tls['pending'] == {'alice': ['ca', 'cert'], 'bob': ['ca', 'cert']}
    assert tls['parties']['alice']['cert'] is None
    # with the material there, check mode sees nothing to do; a changed address shows as a pending certificate
    inv.copy_material(generated[0])
    files = inv.files()
    rc, out = inv.run(inv.show, '--check')
    assert rc == 0 and changed(out) == 0, out
    rc, out = inv.run(inv.show, '--check', '-e', 'sf_external_ip=203.0.113.77')
    assert rc == 0 and changed(out) == 1, out
    assert inv.published()['alice-1']['pending'] == {'alice': ['cert'], 'bob': ['cert']}
    assert inv.files() == files


def test_a_new_address_gets_a_new_certificate_with_the_same_key_and_ca(tmp_path, generated):
    inv = Inv(tmp_path)
    inv.copy_material(generated[0])
    before = inv.files()
    os.makedirs(os.path.join(inv.path, 'host_vars'))
    with open(os.path.join(inv.path, 'host_vars', 'bob-1.yml'), 'w') as handle:   # wins over hosts.yml
        handle.write('sf_external_ip: 198.51.100.21\n')
    rc, out = inv.run(inv.show)
    assert rc == 0, out
    after = inv.files()
    assert [name for name in sorted(after) if after[name] != before[name]] == ['bob/cert.pem']
    assert inv.published()['bob-1']['parties']['bob']['cert']['san'] == ['IP:198.51.100.21']


def test_a_ca_without_its_key_is_not_replaced(tmp_path, generated):
    inv = Inv(tmp_path)
    inv.copy_material(generated[0])
    os.remove(os.path.join(inv.tls, 'alice', 'ca.key'))
    before = inv.files()
    rc, out = inv.run('playbooks/tls.yml')
    assert rc == 2, out
    ca_pem, ca_key = (os.path.join(inv.tls, 'alice', name) for name in ('ca.pem', 'ca.key'))
    assert "party 'alice': %s exists but %s does not" % (ca_pem, ca_key) in flat(out)
    assert inv.files() == before


def test_an_expiring_certificate_is_a_warning(tmp_path, generated):
    inv = Inv(tmp_path, group_vars={'all': 'sf_tls_renew_days: 400\n'})   # the generated ones last 365 days
    inv.copy_material(generated[0])
    rc, out = inv.run('playbooks/tls.yml')
    assert rc == 0 and changed(out) == 0, out
    assert re.search(r"\[WARNING\]: party 'alice', host 'alice-1': %s \(generated\): the party certificate expires "
                     r"in 36[34] day\(s\)" % re.escape(os.path.join(inv.tls, 'alice', 'cert.pem')), flat(out)), out
    assert 'less than sf_tls_renew_days=400' in flat(out)
    assert 'the CA certificate expires' not in flat(out)      # 3650 days


# ---------------------------------------------------------------- bring your own


def test_brought_ca_and_vaulted_ca_key_sign_the_party_certificate(tmp_path, generated):
    org = Party('alice', '203.0.113.10')
    ca_file = tmp_path / 'alice-ca.pem'
    ca_file.write_text(cert_pem(org.ca))
    password = tmp_path / 'vault-pass'
    password.write_text('test-vault-password\n')
    vaulted = subprocess.run(
        [os.path.join(os.path.dirname(PLAYBOOK_BIN), 'ansible-vault'), 'encrypt_string', '--vault-password-file',
         str(password), '--stdin-name', 'sf_tls_ca_key'], input=key_pem(org.ca_key), universal_newlines=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=playbook_env(), check=True).stdout
    inv = Inv(tmp_path, group_vars={'alice': 'sf_tls_ca_cert: %s\n%s' % (ca_file, vaulted)})
    inv.copy_material(generated[0], ['bob'])
    args = ('--vault-password-file', str(password))
    rc, out = inv.run(inv.show, '-v', *args)
    assert rc == 0, out
    assert 'PRIVATE KEY' not in out
    files = inv.files()
    assert 'alice/ca.key' not in files          # the brought CA key is never written
    leaf, = inv.cert('alice')
    assert leaf.issuer == org.ca.subject
    leaf.verify_directly_issued_by(org.ca)
    assert inv.cert('alice', 'ca.pem') == [org.ca]
    assert inv.published()['alice-1']['parties']['alice']['source'] == {'ca': 'brought', 'cert': 'generate'}
    rc, out = inv.run('playbooks/tls.yml', *args)
    assert rc == 0 and changed(out) == 0, out
    assert inv.files() == files


def test_brought_certificate_and_key_are_copied(tmp_path, generated):
    org = Party('bob', 'bob.example.org')
    mid_key = new_key()
    mid = make_cert('bob issuing CA', mid_key, issuer=org.ca, issuer_key=org.ca_key, ca=True)
    leaf_key = new_key()
    leaf = make_cert('bob', leaf_key, issuer=mid, issuer_key=mid_key, san=['DNS:bob.example.org'])
    (tmp_path / 'bob.pem').write_text(cert_pem(leaf, mid))
    (tmp_path / 'bob.key').write_text(key_pem(leaf_key))
    inv = Inv(tmp_path, group_vars={'bob': yaml.safe_dump({   # the CA as PEM text, the rest as files
        'sf_tls_ca_cert': cert_pem(org.ca), 'sf_tls_cert': '%s/bob.pem' % tmp_path,
        'sf_tls_key': '%s/bob.key' % tmp_path})})
    inv.copy_material(generated[0], ['alice'])
    rc, out = inv.run(inv.show)
    assert rc == 0, out
    files = inv.files()
    assert files['bob/key.pem'][1] == 0o600 and 'bob/ca.key' not in files
    assert inv.cert('bob') == [leaf, mid]
    entry = inv.published()['bob-1']['parties']['bob']
    assert entry['source'] == {'ca': 'brought', 'cert': 'brought'}
    assert entry['cert']['serial'] == '%x' % leaf.serial_number
    rc, out = inv.run('playbooks/tls.yml')
    assert rc == 0 and changed(out) == 0, out


def test_bad_brought_material_fails_before_anything_is_written(tmp_path):
    org = Party('bob', 'bob.example.org')
    wrong_san, key = org.issue(san=['DNS:other.example.org'])
    (tmp_path / 'bob.pem').write_text(cert_pem(wrong_san))
    (tmp_path / 'bob.key').write_text(key_pem(key, passphrase=b'secret'))
    (tmp_path / 'ca.pem').write_text(cert_pem(org.ca))
    inv = Inv(tmp_path, group_vars={
        'bob': 'sf_tls_ca_cert: {d}/ca.pem\nsf_tls_cert: {d}/bob.pem\nsf_tls_key: {d}/bob.key\n'.format(d=tmp_path),
        'alice': 'sf_tls_cert: %s/bob.pem\n' % tmp_path})
    rc, out = inv.run('playbooks/tls.yml')
    assert rc == 2, out
    text = flat(out)
    assert 'The TLS material has 4 problem(s); nothing was changed on any host' in text, out
    for needle in ("party 'alice': sf_tls_cert is set but sf_tls_key is not",
                   "party 'alice': sf_tls_cert is set but sf_tls_ca_cert is not",
                   "party 'bob', host 'bob-1': sf_tls_key (%s/bob.key): is encrypted" % tmp_path,
                   "party 'bob', host 'bob-1': sf_tls_cert (%s/bob.pem): its subject alternative names "
                   "(DNS:other.example.org) do not cover the party's address bob.example.org" % tmp_path):
        assert needle in text, needle
    assert not os.path.exists(inv.tls)
    assert all(row['unreachable'] == 0 for row in recap(out).values())


def test_party_wide_variables_must_agree(tmp_path):
    org = Party('alice', '203.0.113.10')
    (tmp_path / 'ca.pem').write_text(cert_pem(org.ca))
    (tmp_path / 'inv').mkdir()
    inv = Inv(tmp_path / 'inv')
    os.makedirs(os.path.join(inv.path, 'host_vars'))
    with open(os.path.join(inv.path, 'host_vars', 'alice-2.yml'), 'w') as handle:
        handle.write('sf_tls_ca_cert: %s/ca.pem\n' % tmp_path)
    rc, out = inv.run('playbooks/tls.yml')
    assert rc == 2, out
    assert ("party 'alice', host 'alice-2': sf_tls_ca_cert differs from the party head 'alice-1'; it is a party-wide "
            "setting: set it in group_vars/alice") in flat(out)
    assert '-----BEGIN' not in out


# ---------------------------------------------------------------- peers: import / export


PEER = """
    sf_peer_parties:
      carol: {external_ip: 198.51.100.3, fed_port: 19000, spu_port: 19500}
"""


def test_a_peer_needs_a_ca_and_tls_import_brings_it(tmp_path, generated):
    inv = Inv(tmp_path, group_vars={'all': PEER})
    inv.copy_material(generated[0])
    rc, out = inv.run('playbooks/tls.yml')
    assert rc == 2, out
    text = flat(out)
    assert "party 'carol': sf_peer_parties.carol.ca_cert is not set and %s does not exist" % os.path.join(
        inv.tls, 'peers', 'carol-ca.pem') in text, out
    assert 'playbooks/tls-import.yml -e party=carol -e ca_file=' in text

    carol = Party('carol', '198.51.100.3')
    (tmp_path / 'carol-ca.pem').write_text(cert_pem(carol.ca))
    (tmp_path / 'carol-cert.pem').write_text(cert_pem(carol.cert))
    # the party's certificate instead of its CA: refused, nothing written (the other refusals: test_tls.py)
    rc, out = inv.run('playbooks/tls-import.yml', '-e', 'party=carol', '-e', 'ca_file=%s/carol-cert.pem' % tmp_path)
    assert rc == 2, out
    assert "party 'carol': ca_file (%s/carol-cert.pem): is not a CA certificate" % tmp_path in flat(out), out
    assert not os.path.exists(os.path.join(inv.tls, 'peers'))

    rc, out = inv.run('playbooks/tls-import.yml', '-e', 'party=carol', '-e', 'ca_file=%s/carol-ca.pem' % tmp_path)
    assert rc == 0, out
    fingerprint = sha256(carol.ca)
    assert 'SHA-256 %s' % fingerprint in flat(out), out
    assert inv.files()['peers/carol-ca.pem'][1] == 0o644
    rc, out = inv.run(inv.show)
    assert rc == 0, out
    entry = inv.published()['alice-1']['parties']['carol']
    assert entry == {'managed': False, 'source': os.path.join(inv.tls, 'peers', 'carol-ca.pem'),
                     'ca_file': os.path.join(inv.tls, 'peers', 'carol-ca.pem'), 'ca_pem': cert_pem(carol.ca),
                     'ca': entry['ca']}
    assert entry['ca'][0]['fingerprint'] == fingerprint


def test_peer_ca_cert_in_the_inventory(tmp_path):
    carol = Party('carol', '198.51.100.3')
    expired = make_cert('old carol CA', new_key(), ca=True, not_before=NOW.replace(year=NOW.year - 3),
                        not_after=NOW.replace(year=NOW.year - 1))
    carol_spec = {'external_ip': '198.51.100.3', 'fed_port': 19000, 'spu_port': 19500,
                  'ca_cert': cert_pem(carol.ca, expired)}   # a bundle, as PEM text in the inventory
    inv = Inv(tmp_path, group_vars={'all': yaml.safe_dump({'sf_peer_parties': {'carol': carol_spec}})})
    rc, out = inv.run('playbooks/tls.yml')
    assert rc == 2, out
    assert ("party 'carol': sf_peer_parties.carol.ca_cert certificate #2 (CN=old carol CA): the CA certificate "
            "expired on") in flat(out), out


def test_export_writes_the_ca_and_its_fingerprint(tmp_path):
    inv = Inv(tmp_path, group_vars={'all': PEER})   # carol's CA is not there yet: export comes first; alice's is made
    dest = tmp_path / 'out' / 'alice-ca.pem'
    dest.parent.mkdir()
    rc, out = inv.run('playbooks/tls-export.yml', '-e', 'party=alice', '-e', 'dest=%s' % dest)
    assert rc == 0, out
    assert "[WARNING]: party 'carol': sf_peer_parties.carol.ca_cert is not set" in flat(out)
    ca, = x509.load_pem_x509_certificates(dest.read_bytes())
    assert inv.cert('alice', 'ca.pem') == [ca]
    assert 'PRIVATE' not in dest.read_text()
    fingerprint = sha256(ca)
    assert 'SHA-256 %s' % fingerprint in out
    rc, out = inv.run('playbooks/tls-export.yml', '-e', 'party=carol')
    assert rc == 2 and "party=carol: name a party this inventory manages (alice, bob)" in flat(out), out


# ---------------------------------------------------------------- rotation


def test_rotate_certs_renews_key_and_serial_with_the_same_ca(tmp_path, generated):
    inv = Inv(tmp_path)
    inv.copy_material(generated[0])
    before = inv.files()
    old, = inv.cert('alice')
    rc, out = inv.run('playbooks/rotate-certs.yml', '-e', 'parties=alice', '--check')
    assert inv.files() == before, out
    rc, out = inv.run('playbooks/rotate-certs.yml', '-e', 'parties=alice')
    # the controller half renews; the distribution play (the node role's TLS tasks) then finds no server here:
    # it tries alice's, and only alice's
    assert rc == 4, out
    assert re.search(r'^TASK \[sfops\.secretflow\.node : Create the TLS directories\]', out, re.M), out
    unreachable = set(re.findall(r'^fatal: \[([\w-]+)\]: UNREACHABLE', out, re.M))
    assert unreachable and all(host.startswith('alice') for host in unreachable), out
    after = inv.files()
    assert [name for name in sorted(after) if after[name] != before[name]] == ['alice/cert.pem', 'alice/key.pem']
    new, = inv.cert('alice')
    assert new.serial_number != old.serial_number and new.public_key() != old.public_key()
    new.verify_directly_issued_by(inv.cert('alice', 'ca.pem')[0])
    assert 'alice: serial %x -> %x (expires' % (old.serial_number, new.serial_number) in flat(out)
    assert 'PRIVATE KEY' not in out


# ---------------------------------------------------------------- TLS off


def test_tls_off_is_warned_about_and_generates_nothing(tmp_path):
    inv = Inv(tmp_path, group_vars={'all': 'sf_tls_enabled: false\n'})
    rc, out = inv.run(inv.show)
    assert rc == 0, out
    assert '[WARNING]: TLS between parties is OFF (sf_tls_enabled: false)' in flat(out), out
    assert inv.published()['bob-1']['enabled'] is False
    assert not os.path.exists(inv.tls)


# ---------------------------------------------------------------- preflight: expiry of the party certificate


PREFLIGHT = """
- import_playbook: {root}/playbooks/boilerplate.yml
- hosts: secretflow
  gather_facts: false
  tasks:
    - ansible.builtin.set_fact:
        sf_tls:
          enabled: true
          renew_days: 30
          parties:
            alice:
              cert_file: /x/alice/cert.pem
              cert: {{serial: "aa", not_after: "{alice}", days_left: {alice_days}}}
            bob:
              cert_file: /x/bob/cert.pem
              cert: {{serial: "bb", not_after: "2999-01-01T00:00:00Z", days_left: 9999}}
    - ansible.builtin.include_role:
        name: sfops.secretflow.preflight
"""


@pytest.mark.parametrize('expired', [False, True], ids=['expires soon', 'expired'])
def test_preflight_checks_the_expiry(tmp_path, expired):
    inv = Inv(tmp_path)
    moment = NOW.replace(microsecond=0) + (-1 if expired else 1) * datetime.timedelta(days=12)
    playbook = tmp_path / 'preflight.yml'
    playbook.write_text(textwrap.dedent(PREFLIGHT).format(root=ROOT, alice=moment.strftime('%Y-%m-%dT%H:%M:%SZ'),
                                                          alice_days=-12 if expired else 12))
    rc, out = inv.run(str(playbook), '--limit', 'alice-1,bob-1')
    text = flat(out)
    rows = recap(out)
    if expired:
        assert ("party 'alice', host 'alice-1': the party certificate (serial aa, /x/alice/cert.pem) expired on "
                in text), out
        assert 'playbooks/rotate-certs.yml -e parties=alice' in text
        assert rows['alice-1']['failed'] == 1 and rows['bob-1']['failed'] == 0
    else:
        assert ("WARNING: party 'alice', host 'alice-1': the party certificate (serial aa) expires in 12 day(s)"
                in text), out
        assert rows['alice-1']['failed'] == 0
    assert "party 'bob', host 'bob-1': the party certificate" not in text
    assert rows['bob-1']['unreachable'] == 1      # bob's check passed, then preflight needed the server
