"""Documents made on the spot for tests and demos, so no binary fixtures live in the repository."""

from __future__ import annotations

from collections.abc import Sequence


def make_pdf(pages: Sequence[Sequence[str]], info: dict[str, str] | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text line per string, with a correct cross-reference table."""

    def literal(s: str) -> str:
        return "(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        content = "BT /F1 11 Tf 14 TL 72 720 Td " + " ".join(f"{literal(line)} Tj T*" for line in lines) + " ET"
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        objects.append(f"<< /Length {len(content)} >>\nstream\n{content}\nendstream")
    if info:
        objects.append("<< " + " ".join(f"/{k} {literal(v)}" for k, v in info.items()) + " >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    info_ref = f" /Info {len(objects)} 0 R" if info else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info_ref} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# A dated wire story with a claim and its denial, each dated by weekday: the seed files carry no
# publication date, so tests of the claims timeline add this one.
DATED_POKROVSK_WIRE = (
    "Claims and Denials Over Pokrovsk\n\n"
    "Published November 12, 2025\n\n"
    "General Valery Gerasimov claimed on Monday that Russian forces had captured Pokrovsk after weeks of fighting.\n\n"
    "Ukrainian military spokesman Viktor Trehubov said on Tuesday that the claim was false and that Pokrovsk "
    "remains under Ukrainian control.\n\n"
    "Residents who left the city described heavy shelling over the past month.\n"
)
