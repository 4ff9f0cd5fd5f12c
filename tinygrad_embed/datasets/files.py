"""Where every dataset's files come from: a copy of your own named by the dataset's environment variable,
the cache directory (~/.cache/tinygrad_embed/, or $TINYGRAD_EMBED_CACHE), or a download into the cache
that only lands under its final name once complete and matching its published hash.

A copy in the cache (or at a `path` argument, which Keras reads as a place in its cache) is checked
against that hash on every load, as Keras's get_file does; a copy named by the environment variable is
your own and is read as it is."""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("TINYGRAD_EMBED_CACHE") or Path.home() / ".cache" / "tinygrad_embed")


def file_hash(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file, read a megabyte at a time."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected: str, algorithm: str = "sha256") -> Path:
    """`path`, or ValueError naming the file and both hashes when its hash is not the published one."""
    actual = file_hash(path, algorithm)
    if actual != expected:
        raise ValueError(f"{str(path)!r} has {algorithm} {actual}, expected {expected}: it is damaged or not the "
                         "published file; delete it to download it again")
    return path


def download(url: str, destination: Path, expected: str, algorithm: str = "sha256", timeout: float = 30,
             where_to_put_it: str = "") -> Path:
    """Download `url` to `destination`, showing progress; a partial or corrupt download never lands."""
    from tqdm.auto import tqdm

    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=destination.parent, prefix=".download-", suffix=".part")
    digest = hashlib.new(algorithm)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, os.fdopen(handle, "wb") as file, \
                tqdm(total=int(response.headers.get("Content-Length") or 0) or None, unit="B", unit_scale=True,
                     desc=f"downloading {destination.name}") as bar:
            while chunk := response.read(1 << 20):
                file.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
        if digest.hexdigest() != expected:
            raise ValueError(f"the download from {url} has {algorithm} {digest.hexdigest()}, expected {expected}: "
                             "corrupt or not the original file; nothing was kept")
        os.replace(partial, destination)
        return destination
    except (urllib.error.URLError, OSError) as error:
        raise OSError(f"could not download {url} ({error}); {where_to_put_it}") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def own_copy(env_var: str, name: str, main: bool) -> Path | None:
    """The file `name` of the copy that `env_var` names (a directory holding the dataset's files under
    Keras's names, or the dataset's main file itself), or None when the variable is not set."""
    given = os.environ.get(env_var)
    if not given:
        return None
    given = Path(given)
    candidate = given / name if given.is_dir() else given if main else given.parent / name
    if not candidate.is_file():
        raise FileNotFoundError(f"{env_var} names {str(given)!r}, but {str(candidate)!r} does not exist; it should "
                                f"be a directory holding {name} (or the dataset's main file itself)")
    return candidate


def obtain(name: str, url: str, expected: str, env_var: str, path: str | os.PathLike | None = None,
           subdir: str = "", algorithm: str = "sha256", main: bool = True) -> Path:
    """The file to read, first found wins: `path` when given (a place in the cache, or absolute), else the
    copy `env_var` names, else the cache's copy, downloaded first when missing; cached copies are checked."""
    if path is None or str(path) == name:
        if (own := own_copy(env_var, name, main)) is not None:
            return own
    target = cache_dir() / subdir / (path or name)  # an absolute path replaces the cache directory, as in Keras
    if target.is_file():
        return verify(target, expected, algorithm)
    hint = (f"put {name} (from {url}) in {target.parent}, or set {env_var} to a directory holding it "
            f"(or to the file itself)")
    return download(url, target, expected, algorithm, where_to_put_it=hint)
