# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The options argument shared by the reachability_* filters and the reachability_report action
    # (plugins/module_utils/_reachability.py).
    DOCUMENTATION = r'''
options:
  options:
    description:
      - C(cross_party_sources) (C(all) or C(heads)), C(worker_ports) (C(ends) or C(all)), C(peer_expect)
        (C(answers) or C(open)), C(deployed) (hosts where the deployment runs - no listener on their Ray worker
        range), C(hosts) (only these hosts take part).
    type: dict
'''
