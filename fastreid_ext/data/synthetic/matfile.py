"""Write ``.mat`` files byte-for-byte deterministically (scipy stamps the creation time in the header)."""
from __future__ import annotations

import io

import scipy.io as sio

__all__ = ["write_mat"]

_HEADER = b"MATLAB 5.0 MAT-file, written by fastreid_ext synthetic generator"


def write_mat(path: str, variables: dict) -> None:
    buf = io.BytesIO()
    sio.savemat(buf, variables, format="5", do_compression=False)
    data = bytearray(buf.getvalue())
    data[:116] = _HEADER.ljust(116, b" ")  # the 116-byte descriptive text; the rest is untouched
    with open(path, "wb") as f:
        f.write(bytes(data))
