"""Files the deployer writes on the Docker host: generated configs, state dirs, secret files.

Every write is atomic (O_EXCL temporary file in the same directory, fsync, rename, fsync of
the directory), so a reader — the gateway's reload watcher, or the next plan — sees the old
file or the new one, never half of either. Directories are created owner-only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from deployer.errors import HostFileError


def read_file(path: str | Path) -> bytes | None:
    """The file's bytes, or None when it does not exist (symlinks are not followed)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HostFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def ensure_dir(path: str | Path, *, mode: int = 0o700, uid: int | None = None, gid: int | None = None) -> bool:
    """Create the directory (and missing parents, 0755 root-owned like /srv) if needed; True if made.

    An existing directory keeps its mode and owner: the deployer never loosens or takes over
    what an operator set up, it only refuses a symlink."""
    p = Path(path)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        if not p.parent.is_dir():
            p.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(p.parent, 0o755)  # not narrowed by the umask: the container user must pass through
        try:
            os.mkdir(p, mode)
        except FileExistsError:
            return False
        except OSError as exc:
            raise HostFileError(f"cannot create directory {p}: {exc.strerror}") from None
        os.chmod(p, mode)  # the umask may have taken bits away
        if uid is not None:
            os.chown(p, uid, gid if gid is not None else uid)
        return True
    except OSError as exc:
        raise HostFileError(f"cannot read {p}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise HostFileError(f"{p} exists and is not a directory (symlinks are refused)")
    return False


def write_atomic(path: str | Path, data: bytes, *, mode: int = 0o644, uid: int | None = None,
                 gid: int | None = None) -> None:
    """Replace `path` with `data` in one rename; the new inode never has a second hard link."""
    p = Path(path)
    directory = p.parent
    tmp = directory / f".{p.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except OSError as exc:
        raise HostFileError(f"cannot write {p}: {exc.strerror}") from None
    try:
        try:
            os.fchmod(fd, mode)
            if uid is not None:
                os.fchown(fd, uid, gid if gid is not None else uid)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, p)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise HostFileError(f"cannot write {p}: {exc.strerror}") from None
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
