"""Task types. One module per task type; see registry.py."""

from .registry import (  # noqa: F401
    TaskType,
    ValidationContext,
    get_task_type,
    known_task_types,
    load_task_modules,
    register_task,
)
