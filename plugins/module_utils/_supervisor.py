# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render an argument vector as a supervisord ``command=`` value.

supervisord splits ``command`` with ``shlex.split`` after expanding ``%(name)s`` expressions, so each argument
is shell-quoted (JSON such as ``--labels={"a":1}`` ends up inside single quotes, the form supervisord keeps
intact) and every ``%`` is doubled.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex


def supervisor_command(argv):
    if isinstance(argv, (str, bytes)) or not all(isinstance(a, (str, int)) for a in argv):
        raise TypeError('supervisor_command expects a list of strings, got %r' % (argv,))
    return ' '.join(shlex.quote(str(arg)) for arg in argv).replace('%', '%%')
