"""A named registry of backend factories, shared by the detectors, stores and indexes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from facelens.errors import UnknownBackendError

Factory = TypeVar("Factory", bound=Callable[..., object])


class Registry(Generic[Factory]):
    """Maps a backend name to the factory that builds it; an unknown name raises."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Factory] = {}

    def register(self, name: str, factory: Factory) -> None:
        self._factories[name] = factory

    def get(self, name: str) -> Factory:
        try:
            return self._factories[name]
        except KeyError:
            raise UnknownBackendError(
                f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._factories)
