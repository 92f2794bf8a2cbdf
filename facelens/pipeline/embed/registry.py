"""The embedders by name: ``create_embedder(settings)`` builds the one ``embedder`` names.

The built-in backends are registered by a factory that imports their module only when the
backend is chosen, so a backend's own dependencies (ONNX Runtime for ``onnx``) are needed only
by the deployments that choose it. The registry lives apart from the ``Embedder`` base class
so that backends import the base without the base importing them back.
"""

from __future__ import annotations

from collections.abc import Callable

from facelens.config import Settings
from facelens.pipeline.embed.base import Embedder
from facelens.registry import Registry

EmbedderFactory = Callable[[Settings], Embedder]
EMBEDDERS: Registry[EmbedderFactory] = Registry("embedder")


def register_embedder(name: str, factory: EmbedderFactory) -> None:
    EMBEDDERS.register(name, factory)


def create_embedder(settings: Settings) -> Embedder:
    """The embedder the ``embedder`` setting names, with the embedding settings."""
    return EMBEDDERS.get(settings.embedder)(settings)


def available_embedders() -> list[str]:
    return EMBEDDERS.names()


# The built-in backends. Each factory imports its backend's module when it is called, i.e.
# when the backend is chosen, never when this module is imported.


def _dlib(settings: Settings) -> Embedder:
    from facelens.pipeline.embed import dlib_resnet

    return dlib_resnet.from_settings(settings)


def _onnx(settings: Settings) -> Embedder:
    # The converter and ONNX Runtime load only when this backend is chosen.
    from facelens.pipeline.embed.dlib_onnx import embedder

    return embedder.from_settings(settings)


def _onnx_file(settings: Settings) -> Embedder:
    from facelens.pipeline.embed import onnx_file

    return onnx_file.from_settings(settings)


register_embedder("dlib", _dlib)
register_embedder("onnx", _onnx)
register_embedder("onnx_file", _onnx_file)
