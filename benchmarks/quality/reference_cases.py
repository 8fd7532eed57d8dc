"""Published scores of the C++ reference on synthetic pairs that can be regenerated exactly.

Scores and SHA-256 digests of the raw RGB bytes come from imazen/ssimulacra2
(`ssimulacra2/src/reference_data.rs`, captured from the C++ tool); the generators rebuild the
same bytes, and the digests prove it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["CASES", "ReferenceCase", "digest"]

U8 = npt.NDArray[np.uint8]

_GREY = 128


def _uniform(size: int, value: int) -> U8:
    return np.full((size, size, 3), value, dtype=np.uint8)


def _gradient(size: int) -> U8:
    """Horizontal grey ramp, x * 255 // (size - 1)."""
    ramp = (np.arange(size) * 255 // (size - 1)).astype(np.uint8)
    return np.repeat(np.broadcast_to(ramp[None, :, None], (size, size, 1)), 3, axis=2)


def _noise(size: int, seed: int) -> U8:
    """Bytes from a 64-bit LCG (Knuth's MMIX constants), bits 33..40 of each state."""
    mask = (1 << 64) - 1
    state = seed
    out = bytearray()
    for _ in range(size * size * 3):
        state = (state * 6364136223846793005 + 1442695040888963407) & mask
        out.append((state >> 33) & 0xFF)
    return np.frombuffer(bytes(out), dtype=np.uint8).reshape(size, size, 3)


def digest(image: U8) -> str:
    """SHA-256 of the raw interleaved RGB bytes, as the capture tool hashed them."""
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()


@dataclass(frozen=True, slots=True)
class ReferenceCase:
    """One pair and the score the C++ tool printed for it."""

    name: str
    size: int
    expected: float
    reference_digest: str
    distorted_digest: str
    # Scores of flat images hang on float rounding noise (see README): loosely comparable only.
    flat: bool

    def images(self) -> tuple[U8, U8]:
        """The (reference, distorted) pair, regenerated."""
        kind, _, rest = self.name.partition(":")
        if kind == "uniform_shift":
            return _uniform(self.size, _GREY), _uniform(self.size, _GREY + int(rest))
        if kind == "gradient_vs_uniform":
            return _gradient(self.size), _uniform(self.size, _GREY)
        if kind == "noise_vs_uniform":
            return _noise(self.size, int(rest)), _uniform(self.size, _GREY)
        raise ValueError(f"unknown case {self.name}")


_FLAT = {
    32: "753412db29fc2970bed80a0cefed2d3caf17b282ed5b9b8707b5c39929a27fce",
    64: "2203a98fd84adfbd3cbbfda33c94fcc2d33f0e1d6ebfa4e0ced17c5469ba54e5",
    128: "2af5ead05032faafc0818cc27fe86c562e70fe7bea63d38366ef7355051b8fe9",
    256: "83ab53863cf746efe2611c6b521cfbdefba4f5325cf123ab451c385035b394ef",
}
_SHIFTED: dict[tuple[int, int], tuple[float, str]] = {
    (1, 32): (97.7492143, "9bfd6cf255ab34830702095e9d20315139bc7139180cc7a5824c75778a0d0f5b"),
    (5, 32): (98.80827382, "51b9f0ae4323fb70a30524450cdaeb940d5ab23b8e22e249976c8fe82c1f5795"),
    (10, 32): (96.5311409, "264e5cfb60a64f9b7ab8957f2e3ab00a6c93247cfac1e737fbfdfc0748931275"),
    (20, 32): (93.7982322, "2fcac1467f36ff01cc6817e30915d4b23afce13c5cdb7ac1249c3eb94c77a490"),
    (50, 32): (85.01409588, "1cfe56369e0441824162a7cec96cb29364cac32654afe71dac9d2f4d0fa61ce6"),
    (1, 64): (97.98672126, "ba72ca16b1a20d73df1e731690165166355f49f94329e3d155a5c5988fc67c2e"),
    (5, 64): (91.52357693, "5b0e43ac49bd5fb36490734280e3fb2d61ed608f0cc04c866b00fdc205528616"),
    (10, 64): (80.24289393, "e802fe3a49ace0c2ec9b689de7d5b875d81b8e0653110b00cd8b2ee51fa40979"),
    (20, 64): (56.05855584, "fe8a663ebc8cead56c6e1879d9fe43acf67ad22a1a4a08429510186f2fb51acc"),
    (50, 64): (-8.75942256, "e67286008fa164d1af611cd84f922e6cbe9a48e4d55e50e0665dd9b642e9a6bb"),
    (1, 128): (96.78920738, "43ebfa035c41a640aeda9630522bf65fb02f487bd9b47ac11fa58cf584c6d1c4"),
    (5, 128): (88.54070876, "bc6f35e8fbe58efe8245f71ca581836e95ecc3a472e3a2798e99c364b8484149"),
    (10, 128): (77.84296299, "8a688a547f7bb47011ef46e5a04f45f8d2f46e1843136eeb97dad5c76db17973"),
    (20, 128): (54.27883917, "22a45cbe1683df60effde2b4d3ed4d41e0cf0924e89705d61c292efadf9def6b"),
    (50, 128): (-9.82383315, "768e019eb1e7b74aa1a48443b3f484373881ce7070223ddc4e948fadf5cdaba1"),
    (1, 256): (96.15027098, "1c0cfab02575aafff19f5f19ada4b61ac53131822b4e57aac249667b385abcd0"),
    (5, 256): (89.73209436, "90526676d3846e7ed5af2e4e8658c81e3f771fe2a1c64dd39a5e123b28863ae2"),
    (10, 256): (80.29149136, "2019b05026c860a398ea4e5ccebf663341474616afd841520ad6f0f2cb93d95b"),
    (20, 256): (59.77892918, "2aebb5647caa208acc8f8f3fdeb9868f828c1a82bf554bc654eb2a850406ad2a"),
    (50, 256): (-0.39085784, "ebf9afb21c2447887ac397990d539d9369aca02485bbac3af760da7f4132a2fc"),
}

CASES: tuple[ReferenceCase, ...] = (
    *(
        ReferenceCase(f"uniform_shift:{shift}", size, score, _FLAT[size], shifted, flat=True)
        for (shift, size), (score, shifted) in _SHIFTED.items()
    ),
    ReferenceCase(
        "gradient_vs_uniform",
        64,
        -64.56872148,
        "bfcfaa0618d282841d4469793253649ea6ddab2f1d0351548cb6f05a8fd79b87",
        _FLAT[64],
        flat=False,
    ),
    ReferenceCase(
        "noise_vs_uniform:42",
        64,
        -47.33572558,
        "7f6be7f433ccb0a006e888f827df518a15c560c44b89852441183c2f61ea59f2",
        _FLAT[64],
        flat=False,
    ),
)
"""The 22 pairs that differ (the other 40 captured cases are identical pairs scoring 100)."""
