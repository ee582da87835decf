"""What an upload is refused for, decided before anything reaches the database: its name and the
first 64 KB of its content (services.imports)."""

from __future__ import annotations

import pytest

from services.imports import SNIFF_BYTES, UploadRefused, _sniff, clean_file_name


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("订单明细.csv", "订单明细.csv"),
        ("C:\\Users\\店长\\Desktop\\11月.XLSX", "11月.XLSX"),
        ("../../etc/passwd.csv", "passwd.csv"),
        ('a:b*c?"d"<e>|f.csv', "a_b_c__d__e__f.csv"),
        ("  周报\x00\x1f.xlsx ", "周报.xlsx"),
        ("x" * 300 + ".csv", "x" * 196 + ".csv"),
    ],
)
def test_names_keep_no_directory_and_no_forbidden_character(given, stored):
    assert clean_file_name(given) == stored


@pytest.mark.parametrize("given", ["", "..", "/", "orders.txt", "orders.csv.exe", "orders.xls", "..csv"])
def test_names_that_are_refused(given):
    with pytest.raises(UploadRefused):
        clean_file_name(given)


def test_a_character_cut_by_the_sniffed_prefix_is_no_error():
    text = "订单ID,门店名称\n" + "A1,光谷店\n" * 10_000
    data = text.encode("utf-8")
    head = data[:SNIFF_BYTES]
    with pytest.raises(UnicodeDecodeError):
        head.decode("utf-8")  # the prefix ends inside a character
    _sniff("orders.csv", head, whole=False)
    with pytest.raises(UploadRefused, match="内容不是 CSV"):
        _sniff("orders.csv", head, whole=True)  # a whole file that ends mid-character is no text


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_text_in_each_accepted_encoding_passes(encoding):
    _sniff("orders.csv", "订单ID,门店名称\nA1,光谷店\n".encode(encoding), whole=True)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("orders.csv", b"abc\x00def"),
        ("orders.csv", b"PK\x03\x04rest of a zip"),
        ("orders.csv", bytes(range(128, 256)) * 4),
        ("orders.xlsx", "订单ID,门店名称\n".encode()),
    ],
)
def test_content_that_does_not_match_the_name_is_refused(name, content):
    with pytest.raises(UploadRefused) as refused:
        _sniff(name, content, whole=True)
    assert refused.value.status == 415
