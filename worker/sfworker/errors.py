"""Error types.

Errors that cross the Celery boundary are raised as builtin exception types
(ValueError / RuntimeError / TimeoutError) so that any Celery client can rebuild them
without importing sfworker.
"""


class ConfigError(ValueError):
    """The worker's configuration file is invalid."""


class ParamsError(ValueError):
    """task_params of a job are invalid (raised before anything is started)."""


class JobError(RuntimeError):
    """A job failed while running."""
