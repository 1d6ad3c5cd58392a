"""``python -m replay`` and the ``returns-replay`` command."""

from typing import NoReturn

from replay.histories import main
from stack.runtime import run_cli


def cli() -> NoReturn:
    run_cli(main)


if __name__ == "__main__":
    cli()
