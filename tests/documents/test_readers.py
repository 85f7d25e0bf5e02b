"""Readers: UTF-8 text, PDF through pypdf (files made in the test), nothing else."""

from __future__ import annotations

import io

import pytest
from document_helpers import make_leaf

from taxon.core.findings import ERROR, WARNING
from taxon.documents import check_leaf_documents, load_leaf_documents
from taxon.documents.readers import read_pdf, read_text, reader_for
from taxon.documents.records import DocumentProblem


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing `text` in Helvetica, written by hand with a correct xref table."""
    stream = f"BT /F1 18 Tf 20 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 144] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def blank_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def problem_of(call) -> tuple[str, str]:
    with pytest.raises(DocumentProblem) as raised:
        call()
    return raised.value.problem.rule, raised.value.problem.severity


def test_pdf_text_is_extracted():
    assert read_pdf("birds.pdf", minimal_pdf("Chickadees are small birds.")) == "Chickadees are small birds."


def test_pdf_without_text_is_a_warning_and_a_broken_one_an_error():
    assert problem_of(lambda: read_pdf("scan.pdf", blank_pdf())) == ("D011", WARNING)
    assert problem_of(lambda: read_pdf("broken.pdf", b"%PDF-1.4\nnot really")) == ("D011", ERROR)


def test_text_must_be_utf8_and_types_are_known():
    assert read_text("a.md", "caf\u00e9".encode()) == "caf\u00e9"
    assert problem_of(lambda: read_text("a.txt", b"\xff\xfe\x00t")) == ("D010", ERROR)
    assert problem_of(lambda: reader_for("slides.pptx")) == ("D009", ERROR)
    assert reader_for("NOTES.MD") is read_text


def test_leaf_with_pdf_documents(tmp_path, document_settings):
    leaf = make_leaf(
        tmp_path, {"patterns": ["*.pdf"]}, {"birds.pdf": minimal_pdf("Chickadees sing."), "scan.pdf": blank_pdf()}
    )

    documents = load_leaf_documents(leaf, document_settings)
    assert [(d.name, d.text) for d in documents] == [("birds.pdf", "Chickadees sing.")]
    assert [(f.rule, f.severity) for f in check_leaf_documents(leaf, document_settings)] == [("D011", WARNING)]
