"""User block types that diagram files may name: ``register_block_type("MyName", MyBlock)``.

A file names a block type; loading looks it up in the library (:data:`blockloop.blocks.BLOCK_TYPES`)
and then in this registry, filled by the running program. Nothing in a file ever chooses a
module to import or code to run: a type the program has not registered is an error (with a
hint to register it), whatever the file says.

Saving a block of a registered class writes the registered name; a block of a class that is
neither a library type nor registered (a subclass of a registered class included: it may
compute something else) cannot be saved. The class must rebuild an identical block from its
parameters, ``cls(**block.params())``, with parameters that are arrays or plain JSON values.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..blocks import BLOCK_TYPES, Block
from ..errors import ParameterError

__all__ = ["register_block_type", "unregister_block_type", "registered_block_types", "block_class", "file_type_name"]

_SUBSYSTEM = "Diagram"  # the file format's word for a subsystem
_USER: dict[str, type] = {}


def register_block_type(name: str, cls: type) -> None:
    """Let diagram files save and load blocks of class ``cls`` under the type name ``name``.

    Registering the same class under the same name again does nothing. Raises
    :class:`~blockloop.errors.ParameterError` when ``name`` is a library block type (or
    ``"Diagram"``) or is registered to another class, when ``cls`` is registered under another
    name, is a library class, is not a :class:`~blockloop.blocks.Block` subclass, or holds code
    (a :class:`~blockloop.blocks.Function`: a file never carries code).

    Examples
    --------
    >>> from blockloop.blocks import Gain
    >>> class Doubler(Gain):
    ...     '''Port: input u, output y = 2·u.'''
    ...     def __init__(self):
    ...         super().__init__(2.0)
    ...     def params(self):
    ...         return {}
    >>> register_block_type("Doubler", Doubler)
    >>> block_class("Doubler") is Doubler
    True
    >>> unregister_block_type("Doubler")
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ParameterError(f"register_block_type: the name must be a Python-identifier-like string such as "
                             f"'MyFilter', got {name!r}")
    if name in BLOCK_TYPES or name == _SUBSYSTEM:
        raise ParameterError(f"register_block_type: {name!r} is a library block type; choose another name for "
                             f"{getattr(cls, '__qualname__', cls)!r}")
    if not isinstance(cls, type) or not issubclass(cls, Block) or cls is Block:
        raise ParameterError(f"register_block_type: expected a subclass of blockloop.blocks.Block, got {cls!r}")
    if cls in BLOCK_TYPES.values():
        raise ParameterError(f"register_block_type: {cls.__qualname__} is a library block type, saved as "
                             f"{cls.__name__!r} already")
    if getattr(cls, "holds_code", False):
        raise ParameterError(f"register_block_type: {cls.__qualname__} wraps a Python callable; a diagram file "
                             "never carries code, so it cannot be saved (build the block in code after loading)")
    if _USER.get(name, cls) is not cls:
        raise ParameterError(f"register_block_type: {name!r} is already registered to "
                             f"{_USER[name].__module__}.{_USER[name].__qualname__}; unregister it first")
    other = next((n for n, c in _USER.items() if c is cls and n != name), None)
    if other is not None:
        raise ParameterError(f"register_block_type: {cls.__qualname__} is already registered as {other!r}")
    _USER[name] = cls


def unregister_block_type(name: str) -> None:
    """Forget a registered type name (a KeyError-free no-op for a name not registered)."""
    _USER.pop(name, None)


def registered_block_types() -> Mapping[str, type]:
    """The user-registered types, name → class (read-only view)."""
    return MappingProxyType(_USER)


def block_class(name: str) -> type | None:
    """The class a file's type ``name`` means: a library type, else a registered one, else None."""
    return BLOCK_TYPES.get(name) or _USER.get(name)


def file_type_name(block: Block) -> str | None:
    """The type name a file records for ``block``: its library or registered name (exact class only), or None."""
    cls = type(block)
    if BLOCK_TYPES.get(cls.__name__) is cls:
        return cls.__name__
    return next((n for n, c in _USER.items() if c is cls), None)
