"""Make `ansible_collections.sfops.secretflow` importable from a checkout (collections/ holds a symlink to it).

Some tests initialise ansible's plugin loader (needed for lookups/filters in rendered templates); that installs
ansible's collection finder, which then owns every `ansible_collections.*` import. Initialising it here, once and
with this checkout's collections directory, keeps the collection importable whatever the test order.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.basename(os.path.dirname(os.path.dirname(ROOT))) != 'ansible_collections':
    # A plain checkout, not an installed collection (ansible-test units): use the checkout's symlink.
    COLLECTIONS = os.path.join(ROOT, 'collections')
    sys.path.insert(0, COLLECTIONS)
    try:
        from ansible.plugins.loader import init_plugin_loader
    except ImportError:  # pragma: no cover - ansible-core < 2.15
        pass
    else:
        init_plugin_loader([COLLECTIONS])
