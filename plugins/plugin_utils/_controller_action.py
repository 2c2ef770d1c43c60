# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Base class of the collection's controller-only action plugins (reachability_report, tls_material,
tls_verify_report): no connection, no file transfer, check mode supported, arguments validated against the
subclass's ``argument_spec``. A subclass implements :meth:`ControllerAction.run_on_controller`."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase


class ControllerAction(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    argument_spec = {}

    def run(self, tmp=None, task_vars=None):
        result = super(ControllerAction, self).run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(argument_spec=self.argument_spec)[0].validated_parameters
        result['changed'] = False
        return self.run_on_controller(args, task_vars or {}, result)

    def run_on_controller(self, args, task_vars, result):
        """``args``: the validated arguments; ``result``: the base result to update and return."""
        raise NotImplementedError
