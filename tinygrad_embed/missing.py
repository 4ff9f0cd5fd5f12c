"""Names Keras has and this project does not: `from tinygrad_embed.layers import Conv2D` says so
plainly, listing what is here, instead of a bare ImportError deep inside a user's script; and
`hasattr(module, "Conv2D")` is False, `getattr(module, name, default)` the default, as for any module."""
from __future__ import annotations

import dis
import sys
from typing import Callable, Iterable

# The instructions by which Python's own syntax asks a module for a name: `from m import N`, `m.N`, `m.N()`.
SYNTAX = frozenset(name for name in ("IMPORT_FROM", "LOAD_ATTR", "LOAD_METHOD") if name in dis.opmap)


class NotInTinygradEmbed(ImportError):
    """An ImportError, so that `from ... import Name` shows this message (Python replaces an
    AttributeError there by its own "cannot import name")."""


class NotInTinygradEmbedAttributeError(AttributeError):
    """The same message as an AttributeError, for getattr() and hasattr(), which answer only to those.
    (One class cannot be both: CPython's ImportError and AttributeError have conflicting layouts.)"""


def not_here(message: str) -> Exception:
    """The error for a Keras name missing here, of the kind the asking code handles: NotInTinygradEmbed
    for Python's syntax (`from m import N`, `m.N`), NotInTinygradEmbedAttributeError for getattr(),
    hasattr() and any other code that asks. Call it from a module's __getattr__ only."""
    asker = sys._getframe(2)  # 0: this function; 1: the module's __getattr__; 2: the code that asked
    by_syntax = dis.opname[asker.f_code.co_code[asker.f_lasti]] in SYNTAX
    return (NotInTinygradEmbed if by_syntax else NotInTinygradEmbedAttributeError)(message)


def module_getattr(module: str, kind: str, known: Callable[[], Iterable[str]]) -> Callable[[str], object]:
    """A module-level __getattr__ for `module`: capitalised names (classes) raise not_here's error."""
    def __getattr__(name: str) -> object:
        if name[:1].isupper():
            kinds = kind + ("es" if kind.endswith("s") else "s")  # losses, not losss
            raise not_here(f"tinygrad_embed has no {kind} {name}; the {kinds} here are: "
                           f"{', '.join(sorted(known()))}")
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    return __getattr__
