"""Names Keras has and this project does not: `from tinygrad_embed.layers import Conv2D` says so
plainly, listing what is here, instead of a bare ImportError deep inside a user's script."""
from __future__ import annotations

from typing import Callable, Iterable


class NotInTinygradEmbed(ImportError):
    """An ImportError, so that `from ... import Name` shows this message."""


def module_getattr(module: str, kind: str, known: Callable[[], Iterable[str]]) -> Callable[[str], object]:
    """A module-level __getattr__ for `module`: capitalised names (classes) raise NotInTinygradEmbed."""
    def __getattr__(name: str) -> object:
        if name[:1].isupper():
            kinds = kind + ("es" if kind.endswith("s") else "s")  # losses, not losss
            raise NotInTinygradEmbed(f"tinygrad_embed has no {kind} {name}; the {kinds} here are: "
                                     f"{', '.join(sorted(known()))}")
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    return __getattr__
