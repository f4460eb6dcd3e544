"""What every command line of the project does the same way: a user's mistake (any SpftError)
is one `error: ...` line on stderr and exit status 2; anything else is a bug and keeps its
traceback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from spft_jax.errors import SpftError


def one_line(message: str) -> str:
    return " ".join(str(message).split())


def run_command(run: Callable[[], None], log_level: int = logging.WARNING) -> int:
    """Runs `run()` and returns the exit status (0, or 2 after printing a user error)."""
    logging.basicConfig(level=log_level, format="%(levelname)s: %(message)s")
    try:
        run()
    except SpftError as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 2
    return 0
