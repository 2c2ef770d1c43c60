#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tls_material
short_description: The parties' TLS material - what is brought, what to generate, and every check
version_added: 0.1.0
description:
  - Runs on the controller only (it is an action plugin; this file documents it). Reads the deployment plan, the
    bring-your-own variables of every managed host (C(sf_tls_ca_cert), C(sf_tls_ca_key), C(sf_tls_cert),
    C(sf_tls_key); PEM text or an absolute controller path, party-wide), C(sf_peer_parties) and the files of O(dir);
    connects to nothing and writes nothing. Never returns a private key.
  - O(stage=layout) (before the C(sfops.secretflow.tls) role generates anything) decides per managed party what is
    brought and what is generated, and checks the brought material and the foreign parties' CA certificates.
  - O(stage=final) checks all material - CA certificates (CA:TRUE, keyCertSign, valid), party certificates (signed
    by the party CA within C(sf_tls_verify_depth), SAN covering the head's C(sf_external_ip) - IP SAN for an IP, the
    CN is never used -, EKU serverAuth and clientAuth, valid now, matching an unencrypted key) - and returns what the
    role publishes as C(sf_tls). Certificates that expire within O(renew_days) are returned as warnings.
  - O(stage=import) checks one foreign CA certificate file (O(party), O(ca_file)) for C(playbooks/tls-import.yml).
  - Reports every problem at once, each naming the party, the host where the address matters, and the variable or
    file; then fails. See docs/operations/tls.md for what each message means.
options:
  stage:
    description: What to do (see above).
    type: str
    required: true
    choices: [layout, final, import]
  plan:
    description: The deployment plan (the C(sf_plan) fact).
    type: dict
    required: true
  dir:
    description: The controller directory of the party PKI (C(sf_tls_dir)); absolute.
    type: str
    required: true
  renew_days:
    description: A certificate that expires within this many days is a warning (C(sf_tls_renew_days)).
    type: int
    required: true
  renew:
    description: Parties whose certificate is being renewed (managed parties only).
    type: list
    elements: str
    default: []
  dry:
    description:
      - O(stage=final) - the run generated nothing (check mode, or the role's C(tls_generate=false)) - what it would
        have generated (a missing CA; a certificate that is missing, no longer fits or is renewed) is not checked
        and is returned as C(pending).
    type: bool
    default: false
  peers_required:
    description: C(false) makes a foreign party without a CA certificate a warning instead of an error.
    type: bool
    default: true
  layout:
    description: O(stage=final) - the RV(parties) of the layout stage, for the old serials of renewed parties.
    type: dict
    default: {}
  party:
    description: O(stage=import) - the foreign party.
    type: str
    default: ""
  ca_file:
    description: O(stage=import) - its CA certificate file (one certificate or a bundle).
    type: str
    default: ""
extends_documentation_fragment:
  - sfops.secretflow.controller_action
requirements:
  - cryptography (the controller's Python)
author:
  - sfops.secretflow contributors (@sfops)
'''

EXAMPLES = r'''
- name: Decide what is brought and what is generated
  sfops.secretflow.tls_material:
    stage: layout
    plan: "{{ sf_plan }}"
    dir: "{{ sf_tls_dir }}"
    renew_days: 30
  register: _layout
  run_once: true
  delegate_to: localhost

- name: Check a CA certificate file before importing it
  sfops.secretflow.tls_material:
    stage: import
    plan: "{{ sf_plan }}"
    dir: "{{ sf_tls_dir }}"
    renew_days: 30
    party: bob
    ca_file: /tmp/bob-ca.pem
  register: _import
  run_once: true
  delegate_to: localhost
'''

RETURN = r'''
parties:
  description:
    - O(stage=layout) - per managed party C(head), C(address), C(dir), C(files) (C(ca_cert), C(ca_key), C(cert),
      C(key) paths), C(ca) and C(cert) (C(generate) or C(brought)), C(brought) (variable to its C(path) - null for
      PEM text - and the C(file) it is copied to), C(dir_exists), C(ca_exists), C(current) (the generated certificate
      still passes every check), C(renew), C(before) (the existing certificate's serial, fingerprint, expiry),
      C(san) and C(signer) (what signs a generated certificate - paths, or the variables holding the texts).
  returned: stage layout, success
  type: dict
peers:
  description: O(stage=layout) - per foreign party C(source) (the variable or the imported file) and C(file).
  returned: stage layout, success
  type: dict
tls:
  description:
    - O(stage=final) - what the role publishes as C(sf_tls) - C(enabled), C(verify_depth), C(renew_days), C(dir),
      C(pending), C(parties) (managed - C(ca_file), C(ca_pem), C(ca), C(cert_file), C(key_file), C(cert_pem),
      C(cert) with C(serial), C(fingerprint), C(not_before), C(not_after), C(days_left), C(san), C(subject),
      C(issuer), C(source), C(pending); foreign - C(source), C(ca_file), C(ca_pem), C(ca)).
  returned: stage final, success
  type: dict
summary:
  description: One line per party (certificate serial, SAN, expiry, fingerprints), or the import's lines.
  returned: stage final or import, success
  type: list
  elements: str
renewed:
  description: O(stage=final) - C(<party> - serial OLD -> NEW) for each renewed party.
  returned: stage final, success
  type: list
  elements: str
dest:
  description: O(stage=import) - where the CA certificate goes (C(<dir>/peers/<party>-ca.pem)).
  returned: stage import, success
  type: str
pem:
  description: O(stage=import) - the CA certificate(s), PEM.
  returned: stage import, success
  type: str
ca:
  description: O(stage=import) - subject, serial, fingerprint and validity of each CA certificate.
  returned: stage import, success
  type: list
  elements: dict
errors:
  description: Every problem found; empty on success.
  returned: always
  type: list
  elements: str
'''
