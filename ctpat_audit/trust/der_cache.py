"""Faster PDF signatures: asn1crypto keeps the DER it just encoded, checked on every use.

asn1crypto marks a SEQUENCE (or SEQUENCE OF) built in Python as *mutated* and never clears
the mark, so every ``dump()`` of a structure pyHanko builds encodes the whole subtree again,
and a parent's encoding encodes each child again: about three quarters of a PDF signature's
CPU (48 ms -> 12 ms a signature on the benchmark machine, measured with
``benchmarks/batch_bench.py``'s keys). :func:`settled_encoding` clears the mark once a
structure has been encoded from its children, for the duration of one signature.

What that changes: a structure whose child is changed *after* the structure was encoded
is still encoded again (the child's own mark says so); only an object shared by two
structures and changed after one of them was encoded would leave the other one's encoding
stale. pyHanko does not do that when it signs, and :func:`check_last_signature` makes sure
of it for every signature made this way: the CMS in the PDF just written must parse as one
DER structure holding the signer's certificate, its message digest must be the hash of the
signed byte ranges, and its signature must verify with that certificate over its signed
attributes. A signature failing that
is made again without the cache (:func:`~ctpat_audit.trust.signing.sign_pdf`). The
verification of reports (:mod:`ctpat_audit.trust.verify`) never runs with the cache.
"""
from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["check_last_signature", "settled_encoding"]

_LOCK = threading.Lock()


@contextmanager
def settled_encoding() -> Iterator[None]:
    """Within the block, asn1crypto clears a SEQUENCE's (SEQUENCE OF's) mutated mark once it
    has encoded it from its children (one block at a time in a process)."""
    from asn1crypto import core

    with _LOCK:
        plain = core.Sequence._set_contents, core.SequenceOf._set_contents

        def sequence(self: Any, force: bool = False) -> None:
            plain[0](self, force)
            self._mutated = False

        def sequence_of(self: Any, force: bool = False) -> None:
            plain[1](self, force)
            self._mutated = False

        core.Sequence._set_contents, core.SequenceOf._set_contents = sequence, sequence_of
        try:
            yield
        finally:
            core.Sequence._set_contents, core.SequenceOf._set_contents = plain


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def check_last_signature(pdf: bytes, certificate: Any) -> str | None:
    """What is wrong with the last signature of ``pdf`` (None: nothing). ``certificate``:
    the signer's ``cryptography`` certificate. Checks the CMS's DER and certificates, its
    message digest against the signed byte ranges and its signature over the signed
    attributes (about 2 ms)."""
    from asn1crypto import cms
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.serialization import Encoding

    found = list(_BYTE_RANGE.finditer(pdf))
    if not found:
        return "no /ByteRange in the signed PDF"
    a, b, c, d = (int(x) for x in found[-1].groups())
    if a != 0 or c + d != len(pdf) or not a + b < c:
        return f"the byte range {a} {b} {c} {d} does not cover the file"
    hex_contents = pdf[a + b:c].strip()
    if hex_contents[:1] != b"<" or hex_contents[-1:] != b">":
        return "the signature's /Contents is not a hex string"
    der = bytes.fromhex(hex_contents[1:-1].decode("ascii"))
    try:
        info = cms.ContentInfo.load(der, strict=False)
        # the reserved room is padded with zeros; nothing else may follow the structure
        info = cms.ContentInfo.load(der[:len(info.dump())], strict=True)
        signed_data = info["content"]
        held = {c.chosen.dump() for c in signed_data["certificates"]}
        if certificate.public_bytes(Encoding.DER) not in held:
            return "the signer's certificate is not in the CMS"
        signer_info = signed_data["signer_infos"][0]
        attrs = signer_info["signed_attrs"]
        digest = next(x["values"][0].native for x in attrs if x["type"].native ==
                      "message_digest")
        algorithm = signer_info["signature_algorithm"].signature_algo
        signature = signer_info["signature"].native
        signed = b"\x31" + attrs.dump()[1:]  # signed as a SET OF, not with its [0] tag
    except (ValueError, KeyError, StopIteration, TypeError) as exc:
        return f"the CMS does not parse: {exc}"
    if hashlib.sha256(pdf[a:a + b] + pdf[c:c + d]).digest() != digest:
        return "the message digest is not the hash of the signed bytes"
    key = certificate.public_key()
    try:
        if algorithm == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
        elif algorithm == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        else:
            return f"signature algorithm {algorithm} is not checked here"
    except InvalidSignature:
        return "the signature does not verify over the signed attributes"
    return None
