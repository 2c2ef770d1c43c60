"""Environment hygiene: the worker never takes the Ray address from the environment.

`ray.init()` reads RAY_ADDRESS when `address` is None and then treats the call as a
connection to an existing cluster (see the post-mortem in the project's seed notes).
The worker always passes the address from its config file, and removes every
RAY_ADDRESS-like variable from os.environ before ray can be imported.
"""

from __future__ import annotations

import os
from typing import Dict, MutableMapping, Optional

# The one RAY_*ADDRESS rule (RAY_ADDRESS, RAY_HEAD_ADDRESS, RAY_GCS_ADDRESS, RAY_CLIENT_ADDR, ...), shared with
# the deployment plan, which refuses the same names in the inventory's sf_worker_env. Standard library only: it
# is safe to import before Ray.
from ._topology import RAY_ADDRESS_ENV_RE, is_ray_address_var  # noqa: F401  (re-exported)


def scrub_ray_env(environ: Optional[MutableMapping[str, str]] = None) -> Dict[str, str]:
    """Remove RAY_ADDRESS-like variables in place; returns what was removed."""
    env = os.environ if environ is None else environ
    removed = {}
    for name in list(env):
        if is_ray_address_var(name):
            removed[name] = env.pop(name)
    return removed


def clean_child_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """A copy of os.environ without RAY_ADDRESS-like variables, for child processes."""
    env = dict(os.environ)
    scrub_ray_env(env)
    if extra:
        env.update(extra)
    return env
