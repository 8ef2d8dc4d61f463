"""The one error hierarchy. The CLI turns any `VigcError` into one line on stderr and exit 2."""

from __future__ import annotations


class VigcError(Exception):
    """Base of every error the user can cause and fix; never raised for internal bugs."""

    exit_code: int = 2


class BadInput(VigcError):
    """A file or argument given by the user is malformed (the message names the file)."""


class BadConfig(VigcError):
    """A study config is invalid: unknown key, wrong type, impossible value."""


class MissingResource(VigcError):
    """Something the run needs is absent: a file, a checkpoint, a registered name, a shard."""


class PluginError(VigcError):
    """A registered benchmark or generator is malformed: a duplicate name, the wrong base
    class, or an entry point that fails to import."""


class WorkerDied(VigcError):
    """A stage's worker process was killed from outside (by the OS, e.g. out of memory)."""


class PeerFailed(VigcError):
    """Another process of a torchrun / accelerate job failed (its message is quoted), or cannot
    see what rank 0 wrote (multi-node runs need the run directory on a shared filesystem)."""


class CheckFailed(VigcError):
    """A check ran and failed (a regression, a failed comparison): exit 1, not 2."""

    exit_code = 1


EXCERPT_CHARS = 60  # how much of a bad value an error message quotes


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """`repr(value)` cut to about `limit` characters, on one line: what an error message quotes.

    A 10 MB id or a multi-line string in a user's file must not become a 10 MB or multi-line
    error; the cut says how long the whole was.
    """
    text = repr(value).replace("\n", "\\n").replace("\r", "\\r")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"
