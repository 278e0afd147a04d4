"""How the command line writes its results: into a folder checked up front, all files or none.

``tinygrad-mb`` writes a figure and several CSV/JSON files per run. Two rules:

* The output folder is created and test-written **before** the run, so a
  folder that cannot be written fails in a second with a message, not after
  minutes of training with the results lost.
* The files are written into a hidden staging folder inside it and moved in
  together at the end (:func:`move_in`), so an error or Ctrl-C in the middle
  leaves the folder as it was: no half-written PNG, no mix of new and old files.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Sequence


def prepare(out: str) -> str | None:
    """Create ``out`` if needed and check that a file can be written there.

    Returns the topmost folder this created (to remove again if nothing is
    written), or None. Raises OSError when the folder cannot be made or written;
    the folders it made are removed again first.
    """
    missing, path = [], os.path.abspath(out)
    while not os.path.exists(path):
        missing.append(path)
        path = os.path.dirname(path)
    created = missing[-1] if missing else None
    try:
        os.makedirs(out, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tinygrad-mb-probe-", dir=out)
        os.close(fd)
        os.remove(probe)
    except OSError:
        remove_empty(out, created)
        raise
    return created


def explain(out: str, exc: OSError) -> str:
    """Why :func:`prepare` failed, naming the folder at fault rather than only repeating the system's words.

    Those words can mislead: creating ``/proc/sys/x`` fails with "No such file or directory"
    although ``/proc/sys`` is there (a kernel folder takes no new entries), and ``file.txt/x``
    with "Not a directory". Call it after :func:`prepare` has removed what it made.
    """
    reason = exc.strerror or str(exc)
    path = os.path.abspath(out)
    if os.path.isdir(path):  # the folder is there, the test file could not be written into it
        return f"cannot write files in it ({reason})"
    parent = os.path.dirname(path)
    while not os.path.exists(parent):  # the nearest part of the path that exists: where creating failed
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"{parent!r} is a file, not a folder, so no folder can be made in it"
    if exc.errno == errno.ENOENT:  # the parent exists, so "no such file" means: no new entries allowed here
        reason = "it takes no new folders"
    return f"cannot create a folder in {parent!r} ({reason})"


def remove_empty(out: str, created: str | None) -> None:
    """Remove ``out`` and its parents up to ``created`` (the folders :func:`prepare` made), while empty."""
    if created is None:
        return
    path = os.path.abspath(out)
    while True:
        try:
            os.rmdir(path)
        except OSError:  # not empty, or already gone: leave it
            return
        if path == created:
            return
        path = os.path.dirname(path)


def existing(out: str, names: Sequence[str]) -> list[str]:
    """Those of ``names`` already in ``out``: results of an earlier run that this one will replace."""
    return [name for name in names if os.path.exists(os.path.join(out, name))]


def move_in(written: list[str], out: str) -> list[str]:
    """Move finished files (from a staging folder inside ``out``) into ``out``, replacing older results."""
    paths = []
    for path in written:
        final = os.path.join(out, os.path.basename(path))
        os.replace(path, final)  # a rename within one file system: atomic for each file
        paths.append(final)
    return paths
