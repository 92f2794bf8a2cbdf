"""A torch state dict read without torch, by an unpickler that builds nothing but tensors.

A ``.pt`` file written by ``torch.save`` is a pickle, and unpickling runs whatever callables
the pickle names. This reader resolves only the few globals a state dict of tensors needs
(``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and the typed storage
classes); any other global (``os.system``, ``builtins.eval``, ...) raises
``UnsafeModelFileError`` before it is called. Tensors come back as numpy arrays.

Both of torch's layouts are read:

- the legacy one (torch < 1.6, and facenet-pytorch's MTCNN files): five pickles in a row
  (magic number, protocol version, system info, the state dict, the storage keys), then each
  storage's raw bytes, prefixed by its element count (int64, little-endian);
- the zip one: ``<archive>/data.pkl`` and one ``<archive>/data/<key>`` entry per storage.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from facelens.errors import ModelIntegrityError, UnsafeModelFileError

#: What ``torch.save``'s legacy layout starts with (its first pickle).
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


@dataclass(frozen=True, slots=True)
class _StorageType:
    """A torch typed storage class, as the pickle names it: only its element type matters.
    Instances are not callable, so a pickle cannot call one."""

    name: str
    dtype: str


_STORAGES = {
    name: _StorageType(name, dtype)
    for name, dtype in (
        ("FloatStorage", "<f4"),
        ("DoubleStorage", "<f8"),
        ("HalfStorage", "<f2"),
        ("LongStorage", "<i8"),
        ("IntStorage", "<i4"),
        ("ShortStorage", "<i2"),
        ("CharStorage", "i1"),
        ("ByteStorage", "u1"),
        ("BoolStorage", "?"),
    )
}


@dataclass(frozen=True, slots=True)
class _StorageRef:
    key: str
    type: _StorageType
    numel: int


@dataclass(frozen=True, slots=True)
class _TensorRef:
    """A tensor before its storage's bytes are read: where it lies in which storage."""

    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(
    storage: object, offset: object, shape: object, stride: object, *_rest: object
) -> _TensorRef:
    """Stands in for ``torch._utils._rebuild_tensor_v2`` (requires_grad, hooks and
    metadata, the rest, do not matter for weights)."""
    if not (
        isinstance(storage, _StorageRef)
        and isinstance(offset, int)
        and isinstance(shape, tuple)
        and isinstance(stride, tuple)
        and all(isinstance(v, int) for v in (*shape, *stride))
    ):
        raise ModelIntegrityError("a tensor in the weights file is malformed")
    return _TensorRef(storage, offset, shape, stride)


#: The only globals a state dict may name, each with what stands in for it.
_ALLOWED: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    **{("torch", name): storage for name, storage in _STORAGES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, source: str) -> None:
        super().__init__(file)
        self.source = source
        self.storages: dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafeModelFileError(
                f"{self.source} names the Python global {module}.{name}, which a torch state "
                "dict of tensors never needs; the file is refused unread"
            ) from None

    def persistent_load(self, pid: Any) -> _StorageRef:
        # legacy: ('storage', type, key, location, numel, view_metadata);
        # zip:    ('storage', type, key, location, numel)
        if (
            not isinstance(pid, tuple)
            or len(pid) not in (5, 6)
            or pid[0] != "storage"
            or not isinstance(pid[1], _StorageType)
            or not isinstance(pid[2], str)
            or not isinstance(pid[4], int)
            or (len(pid) == 6 and pid[5] is not None)
        ):
            raise ModelIntegrityError(f"{self.source} holds a storage facelens cannot read")
        ref = _StorageRef(pid[2], pid[1], pid[4])
        return self.storages.setdefault(ref.key, ref)


def _unpickle(unpickler: _RestrictedUnpickler) -> Any:
    try:
        return unpickler.load()
    except (UnsafeModelFileError, ModelIntegrityError):
        raise
    except Exception as error:  # a truncated or garbled pickle raises many kinds
        raise ModelIntegrityError(f"{unpickler.source} is not a readable torch file") from error


def _plain_pickle(file: BinaryIO, source: str) -> Any:
    """One of the legacy layout's small pickles (numbers, a dict, a list of strings)."""
    return _unpickle(_RestrictedUnpickler(file, source))


def _tensor(ref: _TensorRef, storages: dict[str, npt.NDArray[Any]]) -> npt.NDArray[Any]:
    data = storages[ref.storage.key]
    itemsize = data.dtype.itemsize
    extent = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride, strict=True))
    if any(n <= 0 for n in ref.shape):
        return np.zeros(ref.shape, dtype=data.dtype)
    if ref.offset < 0 or min(ref.stride, default=0) < 0 or extent >= data.size:
        raise ModelIntegrityError("a tensor lies outside its storage in the weights file")
    view = np.lib.stride_tricks.as_strided(
        data[ref.offset :], shape=ref.shape, strides=[s * itemsize for s in ref.stride]
    )
    return np.array(view, dtype=data.dtype.newbyteorder("="))


def _state_dict(result: Any, storages: dict[str, npt.NDArray[Any]], source: str) -> StateDict:
    if not isinstance(result, dict) or not all(
        isinstance(k, str) and isinstance(v, _TensorRef) for k, v in result.items()
    ):
        raise ModelIntegrityError(f"{source} is not a state dict of tensors")
    return {name: _tensor(ref, storages) for name, ref in result.items()}


StateDict = dict[str, npt.NDArray[Any]]


def read_state_dict(data: bytes, source: str = "the weights file") -> StateDict:
    """The tensors of a ``torch.save``'d state dict, by name, as numpy arrays (copies, in
    native byte order). ``source`` names the file in error messages.

    Raises ``UnsafeModelFileError`` for a pickle naming any other global, and
    ``ModelIntegrityError`` for anything else that is not such a state dict."""
    if zipfile.is_zipfile(io.BytesIO(data)):
        return _read_zip(data, source)
    return _read_legacy(data, source)


def _read_legacy(data: bytes, source: str) -> StateDict:
    file = io.BytesIO(data)
    if _plain_pickle(file, source) != LEGACY_MAGIC:
        raise ModelIntegrityError(f"{source} is not a torch file (no torch magic number)")
    if _plain_pickle(file, source) != LEGACY_PROTOCOL:
        raise ModelIntegrityError(f"{source} has a torch file protocol facelens cannot read")
    info = _plain_pickle(file, source)
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise ModelIntegrityError(f"{source} was not written little-endian")
    unpickler = _RestrictedUnpickler(file, source)
    result = _unpickle(unpickler)
    keys = _plain_pickle(file, source)
    if not isinstance(keys, list) or sorted(keys) != sorted(unpickler.storages):
        raise ModelIntegrityError(f"{source} lists other storages than its tensors use")
    storages: dict[str, npt.NDArray[Any]] = {}
    for key in keys:
        ref = unpickler.storages[key]
        dtype = np.dtype(ref.type.dtype)
        numel = int.from_bytes(file.read(8), "little", signed=True)
        raw = file.read(numel * dtype.itemsize)
        if numel != ref.numel or len(raw) != numel * dtype.itemsize:
            raise ModelIntegrityError(f"{source} is truncated (storage {key})")
        storages[key] = np.frombuffer(raw, dtype=dtype)
    return _state_dict(result, storages, source)


def _read_zip(data: bytes, source: str) -> StateDict:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise ModelIntegrityError(f"{source} is a zip file but not a torch file")
        folder = pickles[0].removesuffix("data.pkl")
        unpickler = _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), source)
        result = _unpickle(unpickler)
        storages: dict[str, npt.NDArray[Any]] = {}
        for key, ref in unpickler.storages.items():
            dtype = np.dtype(ref.type.dtype)
            try:
                raw = archive.read(f"{folder}data/{key}")
            except KeyError:
                raise ModelIntegrityError(f"{source} lacks storage {key}") from None
            if len(raw) != ref.numel * dtype.itemsize:
                raise ModelIntegrityError(f"{source} is truncated (storage {key})")
            storages[key] = np.frombuffer(raw, dtype=dtype)
    return _state_dict(result, storages, source)
