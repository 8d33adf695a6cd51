"""Signing with asn1crypto's encoding cache (``trust.der_cache``): the same valid PAdES
signatures, every one checked, a failed check signed again without the cache."""
from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
from asn1crypto import algos, core
from signing_helpers import make_setup, write_pdf

from ctpat_audit.trust import der_cache, signing

AT = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return make_setup(tmp_path_factory.mktemp("der"))


@pytest.fixture()
def pdf(tmp_path):
    path = tmp_path / "in.pdf"
    write_pdf(path, "report", pages=3)
    return path.read_bytes()


def _pyhanko_status(data: bytes, setup):
    """pyHanko's own validation of every signature, against the workspace's CA."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    from ctpat_audit.trust.verify import _context

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    return [validate_pdf_signature(e, signer_validation_context=_context(setup.ws.path / "keys"))
            for e in reader.embedded_signatures]


def test_signature_and_countersignature_made_with_the_cache_validate(setup, pdf, caplog):
    caplog.set_level(logging.WARNING, logger="ctpat_audit.trust.signing")
    once = signing.sign_pdf(pdf, setup.signer("spec"), "validated", AT, "V-1", "0001", 0)
    twice = signing.sign_pdf(once, setup.signer("sup"), "approved", AT, "V-1", "0001", 1)
    statuses = _pyhanko_status(twice, setup)
    assert len(statuses) == 2 and all(s.bottom_line and s.intact and s.valid
                                      for s in statuses)
    assert der_cache.check_last_signature(twice, setup.signer("sup").certificate) is None
    assert "signing again" not in caplog.text  # both passed the check with the cache


def test_the_check_catches_a_changed_byte_and_another_signer(setup, pdf):
    signed = signing.sign_pdf(pdf, setup.signer("spec"), "validated", AT, "V-1", "0001", 0)
    cert = setup.signer("spec").certificate
    assert der_cache.check_last_signature(signed, cert) is None
    flipped = bytearray(signed)
    flipped[200] ^= 0x01  # inside the first signed byte range
    assert "message digest" in der_cache.check_last_signature(bytes(flipped), cert)
    assert "certificate" in der_cache.check_last_signature(
        signed, setup.signer("sup").certificate)
    assert "ByteRange" in der_cache.check_last_signature(pdf, cert)


def test_a_signature_failing_the_check_is_made_again_without_the_cache(setup, pdf,
                                                                      monkeypatch, caplog):
    calls = []
    real = der_cache.check_last_signature

    def fails_once(data, cert):
        calls.append(core.Sequence._set_contents)
        return "planted problem" if len(calls) == 1 else real(data, cert)

    monkeypatch.setattr(signing, "check_last_signature", fails_once)
    with caplog.at_level(logging.WARNING, logger="ctpat_audit.trust.signing"):
        signed = signing.sign_pdf(pdf, setup.signer("spec"), "validated", AT, "V-1", "0001",
                                  0)
    assert "planted problem" in caplog.text and "signing again without it" in caplog.text
    assert len(calls) == 1  # the second signature is pyHanko's own path, unchecked here
    assert [s.bottom_line for s in _pyhanko_status(signed, setup)] == [True]


def test_settled_encoding_is_scoped_and_still_sees_a_changed_child():
    plain = core.Sequence._set_contents, core.SequenceOf._set_contents
    with der_cache.settled_encoding():
        assert core.Sequence._set_contents is not plain[0]
        alg = algos.DigestAlgorithm({"algorithm": "sha256"})
        first = alg.dump()
        assert alg.dump() == first  # encoded once, kept
        alg["algorithm"] = "sha512"  # a change after the encoding is encoded again
        assert alg.dump() != first
        assert algos.DigestAlgorithm.load(alg.dump())["algorithm"].native == "sha512"
    assert (core.Sequence._set_contents, core.SequenceOf._set_contents) == plain
    with pytest.raises(RuntimeError), der_cache.settled_encoding():
        raise RuntimeError("a failed signature")
    assert (core.Sequence._set_contents, core.SequenceOf._set_contents) == plain
