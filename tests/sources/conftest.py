"""Fixtures for the corpus tests: the Factbook corpus built once per session in a temporary cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from research_nb.sources.corpus import Corpus

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def factbook_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("factbook-cache")


@pytest.fixture(scope="session")
def factbook(factbook_cache: Path) -> Corpus:
    return Corpus.open(builtins=("factbook",), cache_dir=factbook_cache)


@pytest.fixture
def notes() -> Path:
    return FIXTURES / "notes"


def write_pdf(path: Path, pages: list[list[str]], title: str | None = None) -> Path:
    """Write a small valid PDF: one text line per entry of each page, in Helvetica (no PDF library needed)."""
    objects: list[bytes] = []
    page_ids = [3 + 2 * i for i in range(len(pages))]
    font_id = 3 + 2 * len(pages)
    info_id = font_id + 1
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    for lines in pages:
        escaped = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines]
        stream = "BT /F1 12 Tf 16 TL 72 720 Td " + " T* ".join(f"({line}) Tj" for line in escaped) + " ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font_id} 0 R >> >>"
            f" /Contents {len(objects) + 2} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(f"<< /Title ({title or ''}) >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    path.write_bytes(bytes(out))
    return path
