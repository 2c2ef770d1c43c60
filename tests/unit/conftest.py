"""Make `ansible_collections.sfops.secretflow` importable from a checkout (collections/ holds a symlink to it)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.basename(os.path.dirname(os.path.dirname(ROOT))) != 'ansible_collections':
    # A plain checkout, not an installed collection (ansible-test units): use the checkout's symlink.
    sys.path.insert(0, os.path.join(ROOT, 'collections'))
