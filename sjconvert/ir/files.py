"""Writing output files so that no run loses a user's file.

:func:`atomic_write` writes to a temporary file beside the output and renames it into
place only when it is complete: a failed or interrupted run leaves an existing output as it
was and no partial file. The temporary file is named ``.<name>.sjtmp-<pid>-<tag><suffix>``
(hidden, never mistaken for an output); it is removed on any error and on Ctrl-C, and one
left by a run that was killed outright (SIGKILL, power loss) is removed by the next write
into the same folder once its process is gone. Outputs get the permissions the umask
gives (``0666 & ~umask``), like any file a shell command creates. An existing output is
replaced; a symbolic link at the output path is followed, so the file it points to is
replaced. An output that is a folder or another kind of file (a device, a FIFO) is refused.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError

TMP_TAG = ".sjtmp-"
_STALE = re.compile(r"\..+\.sjtmp-(\d+)-[0-9a-f]+(\.[A-Za-z0-9]+)?")
_ENVIRONMENT = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale(folder: Path) -> list[Path]:
    """Remove the temporary files of killed sjconvert runs from ``folder`` (own files only,
    whose process no longer exists); returns what was removed."""
    removed = []
    for p in folder.glob(f".*{TMP_TAG}*"):
        m = _STALE.fullmatch(p.name)
        try:
            stale = m is not None and p.is_file() and p.lstat().st_uid == os.getuid()
            if stale and not _alive(int(m.group(1))):
                p.unlink()
                removed.append(p)
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


def output_path(path: str | os.PathLike[str]) -> Path:
    """Where an output at ``path`` will be written (symbolic links followed); refuses a
    folder, a special file and a missing or read-only folder, each in one line."""
    given = Path(path)
    target = Path(os.path.realpath(given))
    if target.is_dir():
        raise InputError(f"{given}: is a folder; give a file name for the output")
    if target.exists() and not target.is_file():
        raise InputError(f"{given}: exists and is not a regular file; refusing to replace it")
    if not target.parent.is_dir():
        raise InputError(f"{given}: folder {given.parent} does not exist")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise InputError(f"{given}: cannot write in folder {given.parent} (permission denied)")
    return target


def temp_path(target: Path, suffix: str = "") -> Path:
    """A fresh temporary name beside ``target`` (see the module docstring)."""
    tag = secrets.token_hex(4)
    return target.with_name(f".{target.name}{TMP_TAG}{os.getpid()}-{tag}{suffix}")


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[Path], object], suffix: str = ""
) -> Path:
    """Call ``write(tmp)`` on a new temporary file beside ``path``, then rename it into
    place. On any error or interrupt the temporary file is removed and ``path`` is
    untouched. ``suffix`` ends the temporary name (for writers that read the extension).
    Returns ``path``."""
    target = output_path(path)
    remove_stale(target.parent)
    tmp = temp_path(target, suffix)
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        write(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in _ENVIRONMENT:
            raise InputError(f"{path}: cannot write ({os.strerror(exc.errno)})") from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Path(path)
