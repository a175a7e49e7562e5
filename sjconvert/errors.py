"""One error hierarchy for sjconvert.

Library code raises these; only :mod:`sjconvert.cli.app` turns them into a one-line
message and an exit code.
"""

from __future__ import annotations


class SjconvertError(Exception):
    """Base of every error sjconvert raises on purpose."""

    exit_code = 1


class InputError(SjconvertError):
    """A file, model or data set given by the user is missing, unreadable or invalid."""

    exit_code = 2


class CaptureError(SjconvertError):
    """A model could not be traced into the IR."""

    exit_code = 3


class UnsupportedOpError(SjconvertError):
    """One or more nodes are not supported; the message lists all of them."""

    exit_code = 3


class PassError(SjconvertError):
    """A graph pass failed; the message names the pass and the passes before it."""

    exit_code = 4


class EmitError(SjconvertError):
    """A target emitter could not produce its output."""

    exit_code = 5


class DistributedError(SjconvertError):
    """A sharded run failed: another process died, timed out or could not join."""

    exit_code = 6


class SjconvertWarning(UserWarning):
    """Something that runs but likely not as meant (integer data that was never scaled, ...);
    the CLI prints it as one ``warning:`` line after the command's output."""
