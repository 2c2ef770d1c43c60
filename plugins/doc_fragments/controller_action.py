# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The attributes of the controller-only action plugins:
    # deployment_plan, reachability_report, tls_material, tls_verify_report.
    DOCUMENTATION = r'''
attributes:
  check_mode:
    support: full
    description: The plugin only reads (the inventory, registered results, controller files); it behaves the same in
      check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  action:
    support: full
    description: Runs on the controller as an action plugin; connects to no host.
'''
