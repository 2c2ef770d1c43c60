# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall rules of one server, derived from the deployment plan.

Two kinds of ports - the node's listeners in the plan, classified by the port table (``_ports.PORTS``) - and two
kinds of sources:

* private (reach ``party``) - every Ray port of the node (and the head's GCS and Redis ports, and the Ray client
  server's when it runs): open only to the party's own nodes (plus ``private_sources``, e.g. a monitoring host);
* public (reach ``peers``) - the head's fed and SPU port ranges: open to the other parties' addresses (their nodes'
  external IPs, or what ``peer_sources`` says for a party whose traffic arrives NATed) plus the party's own nodes.

Every other port of the server is left alone. Nothing here touches the network.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.sfops.secretflow.plugins.module_utils import _ports as portlib
from ansible_collections.sfops.secretflow.plugins.module_utils._messages import where

# The comment of the table's drop rule for the private ports (roles/firewall/templates/firewall.nft.j2): a table that
# exists without it has had its chain flushed.
PRIVATE_DROP_COMMENT = 'sfops: Ray/Redis, other sources'
RUNBOOK = 'docs/operations/firewall.md'


class FirewallError(ValueError):
    """Raised with every problem found (a list of messages)."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(FirewallError, self).__init__('; '.join(self.errors))


def _network(value, where, errors):
    try:
        return ipaddress.ip_network(u'%s' % value, strict=False)
    except ValueError:
        errors.append('%s: %r is not an IP address or CIDR network' % (where, value))
        return None


def _split(networks):
    v4 = sorted(set(str(n) for n in networks if n is not None and n.version == 4),
                key=lambda s: ipaddress.ip_network(u'%s' % s))
    v6 = sorted(set(str(n) for n in networks if n is not None and n.version == 6),
                key=lambda s: ipaddress.ip_network(u'%s' % s))
    return v4, v6


def firewall_rules(plan, host, peer_sources=None, extra_peer_sources=None, private_sources=None, ssh_port=22):
    """The rules of ``host``: {party, private_ports, public_ports, private_v4/v6, public_v4/v6}.

    ``peer_sources``: {party: [address or CIDR, ...]} replaces what is derived for that party (the external IPs of
    its nodes, or its ``external_ip`` for a peer party). ``extra_peer_sources`` are added to the public sources,
    ``private_sources`` to the private ones. Raises :class:`FirewallError` naming the host, party and variable.
    """
    errors = []
    party = plan['hosts'].get(host)
    if party is None:
        raise FirewallError(["host '%s' is not a managed host of the deployment plan" % host])
    peer_sources = peer_sources or {}
    if not isinstance(peer_sources, dict):
        raise FirewallError(['firewall_peer_sources must be a mapping of party name to a list of addresses'])
    for name in sorted(peer_sources):
        if name not in plan['parties']:
            errors.append("firewall_peer_sources: '%s' is not a party of the deployment (parties: %s)"
                          % (name, ', '.join(plan['party_order'])))
        elif name == party:
            errors.append("firewall_peer_sources: '%s' is this host's own party; its nodes are always allowed"
                          % name)
    own = plan['parties'][party]
    node = own['nodes'][host]
    private = portlib.expand([entry for entry in node['listeners'] if entry['reach'] == portlib.PARTY])
    public = portlib.expand([entry for entry in node['listeners'] if entry['reach'] == portlib.PEERS])
    for entry in node['listeners']:
        if entry['first'] <= ssh_port <= entry['last']:
            errors.append("host '%s' (party '%s'): the SSH port %s is one of the deployment's ports (%s); the firewall "
                          "would restrict it - move %s away from it"
                          % (host, party, ssh_port, portlib.describe(entry), ' and '.join(entry['variables'])))

    own_sources = []
    for name, other in sorted(own['nodes'].items()):
        for key in ('node_ip', 'external_ip'):
            value = other.get(key)
            if value:
                try:
                    own_sources.append(ipaddress.ip_network(u'%s' % value))
                except ValueError:
                    if key == 'node_ip':
                        errors.append("host '%s' (party '%s'): sf_node_ip %r is not an IP address"
                                      % (name, party, value))
                    # an external DNS name of an own node: the node IP already covers it inside the party
    for value in private_sources or []:
        own_sources.append(_network(value, 'firewall_private_sources', errors))

    public_sources = list(own_sources)
    for name in plan['party_order']:
        if name == party or not public:
            continue
        other = plan['parties'][name]
        if name in peer_sources:
            values = peer_sources[name]
            if not isinstance(values, list) or not values:
                errors.append("firewall_peer_sources.%s: must be a non-empty list of addresses or CIDRs" % name)
                continue
            for value in values:
                public_sources.append(_network(value, 'firewall_peer_sources.%s' % name, errors))
            continue
        addresses = [n.get('external_ip') for _h, n in sorted(other.get('nodes', {}).items())] or \
            [other['external_ip']]
        for value in addresses:
            try:
                public_sources.append(ipaddress.ip_network(u'%s' % value))
            except ValueError:
                errors.append("party '%s': its external address %r is a DNS name, the firewall of '%s' needs "
                              "addresses - set firewall_peer_sources.%s to the addresses its traffic comes from"
                              % (name, value, host, name))
    for value in extra_peer_sources or []:
        public_sources.append(_network(value, 'firewall_extra_peer_sources', errors))
    if errors:
        raise FirewallError(errors)
    private_v4, private_v6 = _split(own_sources)
    public_v4, public_v6 = _split(public_sources)
    return {
        'party': party,
        'role': node['role'],
        'private_ports': portlib.ranges(private),
        'public_ports': portlib.ranges(public),
        'private_v4': private_v4,
        'private_v6': private_v6,
        'public_v4': public_v4,
        'public_v6': public_v6,
    }


def _first_line(text):
    lines = [line.strip() for line in (text or '').splitlines() if line.strip()]
    return lines[0] if lines else ''


def table_problems(plan, states, table='sfops_secretflow', service='sfops-firewall'):
    """What verify.yml says about the firewall table of every server: ``{problems, off, unchecked, lines}``.

    ``states``: host -> ``{rc, stdout, stderr, timer}`` - ``nft list table inet <table>`` on the server and
    ``systemctl is-active <service>-check.timer`` (the restore timer) - or None for a host that was not checked
    (unreachable). A host whose plan entry has ``firewall: false`` (firewall_enabled: false, acknowledged) is listed in
    ``off``, not judged. Every problem names the party and host, what is exposed and how to fix it.
    """
    problems = []
    off = []
    unchecked = []
    lines = []
    fix = ('load it now: `systemctl restart %s %s-check.timer` on the server, or run playbooks/firewall.yml (runbook '
           '%s, "The table is missing")' % (service, service, RUNBOOK))
    for host in sorted(states):
        party = plan['hosts'].get(host)
        if party is None:
            continue
        node = plan['parties'][party]['nodes'][host]
        place = where(party, host)
        if not node.get('firewall', True):
            off.append(host)
            lines.append('%s: firewall off (firewall_enabled: false, acknowledged) - not checked' % place)
            continue
        state = states[host]
        if state is None:
            unchecked.append(host)
            lines.append('%s: not checked' % place)
            continue
        rc = state.get('rc')
        stdout = state.get('stdout') or ''
        if rc != 0:
            reason = _first_line(state.get('stderr')) or _first_line(state.get('msg')) or 'rc %s' % rc
            problems.append("%s: the firewall table inet %s is missing (%s): Ray's GCS, raylets and Redis port accept "
                            "connections from every other party - %s" % (place, table, reason, fix))
            lines.append('%s: table MISSING' % place)
            continue
        if PRIVATE_DROP_COMMENT not in stdout:
            problems.append("%s: the firewall table inet %s is loaded but has no drop rule for the Ray and Redis ports "
                            "(its chain was flushed?): they accept connections from every other party - %s"
                            % (place, table, fix))
            lines.append('%s: table INCOMPLETE' % place)
            continue
        timer = (state.get('timer') or '').strip() or 'unknown'
        if timer != 'active':
            problems.append("%s: the restore timer %s-check.timer is %s: a flushed table would stay flushed until the "
                            "next Ansible run - run playbooks/firewall.yml (runbook %s)" % (place, service, timer, RUNBOOK))
            lines.append('%s: table loaded, restore timer %s' % (place, timer.upper()))
            continue
        lines.append('%s: table loaded, restore timer active' % place)
    return {'problems': problems, 'off': off, 'unchecked': unchecked, 'lines': lines}
