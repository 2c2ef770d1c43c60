"""SecretFlow worker (Celery + SecretFlow production mode).

Importing this package must stay cheap: it must never import secretflow or ray.
Those are imported only in the per-job child process (sfworker.job) and the Ray probe
(sfworker.raycheck).
"""

__version__ = "0.1.0"
