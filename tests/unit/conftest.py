"""Make `ansible_collections.sfops.secretflow` importable from a checkout (collections/ holds a symlink to it)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
try:
    import ansible_collections.sfops.secretflow  # noqa: F401  (installed, or run by ansible-test)
except ImportError:
    sys.path.insert(0, os.path.join(ROOT, 'collections'))
