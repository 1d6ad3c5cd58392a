"""The test suite. Imported before any conftest, so what it sets holds for every import of the run.

Where PYTHONDONTWRITEBYTECODE is set (this machine and its CI), every process compiled the
project's modules from source, and the workflow sandbox did so again for every case it ran: about
a quarter of a workflow test's CPU. Byte code goes to the (ignored) __pycache__ folders, as on any
machine without that variable, for this process and for the worker.py, CLI and replay processes
the tests start."""

import os
import sys

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
