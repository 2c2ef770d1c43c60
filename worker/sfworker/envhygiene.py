"""Environment hygiene: the worker never takes the Ray address from the environment.

`ray.init()` reads RAY_ADDRESS when `address` is None and then treats the call as a
connection to an existing cluster (see the post-mortem in the project's seed notes).
The worker always passes the address from its config file, and removes every
RAY_ADDRESS-like variable from os.environ before ray can be imported.
"""

from __future__ import annotations

import os
import re
from typing import Dict, MutableMapping, Optional

# RAY_ADDRESS, RAY_HEAD_ADDRESS, RAY_GCS_ADDRESS, RAY_CLIENT_ADDRESS, RAY_REDIS_ADDRESS, ...
_RAY_ADDR_RE = re.compile(r"^RAY_(?:[A-Z0-9_]*_)?ADDR(?:ESS)?$", re.IGNORECASE)


def is_ray_address_var(name: str) -> bool:
    return bool(_RAY_ADDR_RE.match(name))


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
