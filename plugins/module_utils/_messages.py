# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How every error and warning of the collection names its place: ``party 'alice', host 'alice-1'``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def where(party=None, host=None):
    """``party 'alice', host 'alice-1'`` (either part may be missing); ``deployment`` when both are."""
    parts = []
    if party is not None:
        parts.append("party '%s'" % party)
    if host is not None:
        parts.append("host '%s'" % host)
    return ', '.join(parts) if parts else 'deployment'
