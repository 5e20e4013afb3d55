"""A named table of classes: the one place each extension point's names are listed.

Generators (`assistant.generators`) and retrievers (`assistant.retrievers`) are small classes
registered by name with a decorator. Settings validation, the CLI's help, the UI's choices and
the evaluation runner all read the registry, so adding one is one class in one place::

    @generators.register
    class Echo(generators.Generator):
        name = "echo"
        ...

A registry may name `builtins`, modules that register more classes when imported; they are
imported on first look-up (not when this module is), so reading the names stays cheap and
free of import cycles.
"""

from __future__ import annotations

import importlib
from typing import Generic, TypeVar

T = TypeVar("T", bound=type)


class UnknownName(ValueError):
    """A name no class is registered under; the message lists the registered ones."""


class Registry(Generic[T]):
    """Classes by their `name` attribute, in registration order."""

    def __init__(self, kind: str, builtins: tuple[str, ...] = ()):
        self.kind = kind
        self._builtins = builtins
        self._loaded = not builtins
        self._classes: dict[str, T] = {}

    def register(self, cls: T) -> T:
        """Class decorator: list `cls` under ``cls.name`` (a name can be taken only once)."""
        name = getattr(cls, "name", "")
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.kind} class needs a `name`: {cls.__name__}")
        if name in self._classes and self._classes[name] is not cls:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._classes[name] = cls
        return cls

    def unregister(self, name: str) -> None:
        """Remove `name` (tests that register a class take it out again)."""
        self._classes.pop(name, None)

    def get(self, name: str) -> T:
        """The class registered as `name`; `UnknownName` says which names there are."""
        table = self._table()
        if name not in table:
            raise UnknownName(f"unknown {self.kind} {name!r}; choose {', '.join(table)}")
        return table[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._table())

    def classes(self) -> tuple[T, ...]:
        return tuple(self._table().values())

    def __contains__(self, name: object) -> bool:
        return name in self._table()

    def _table(self) -> dict[str, T]:
        if not self._loaded:
            self._loaded = True
            for module in self._builtins:
                importlib.import_module(module)
        return self._classes
