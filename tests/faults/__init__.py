"""Fault tests: the embedded stack broken on purpose (worker SIGKILLs, PostgreSQL crashes, Temporal
restarts, races). pytest runs the quick version; `python -m tests.faults --full` the long one."""
