"""Cache payloads and keys: round trips keep types; anything else is rejected, never unpickled."""

import datetime as dt
import pickle
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from cache.keys import make_key, normalize
from cache.serialize import CorruptPayloadError, decode, encode


def test_cacheser001_dataframe_roundtrip_keeps_dtypes():
    frame = pd.DataFrame({
        "day": pd.to_datetime(["2026-11-01", "2026-11-02", None]),
        "渠道": pd.Categorical(["美团闪购", "饿了么", "美团闪购"]),
        "revenue": [1.5, np.nan, 3.25],
        "orders": np.array([1, 2, 3], dtype="int64"),
        "name": ["红富士苹果", None, "香蕉"],
    }, index=pd.Index([10, 20, 30], name="store_id"))  # fmt: skip
    back = decode(encode(frame).data)
    pd.testing.assert_frame_equal(back, frame)
    assert isinstance(back["渠道"].dtype, pd.CategoricalDtype)


def test_cacheser002_empty_frame_and_big_frame_compress():
    empty = pd.DataFrame({"a": pd.Series([], dtype="float64"), "b": pd.Series([], dtype="str")})
    pd.testing.assert_frame_equal(decode(encode(empty).data), empty)
    rng = np.random.default_rng(1)
    n = 200_000
    big = pd.DataFrame({"store": rng.integers(1, 100, n), "channel": rng.choice(["美团闪购", "饿了么"], n),
                        "revenue": np.round(rng.random(n) * 100, 2)})  # fmt: skip
    encoded = encode(big)
    assert len(encoded.data) < 0.5 * encoded.raw_size
    pd.testing.assert_frame_equal(decode(encoded.data), big)


def test_cacheser003_json_values():
    value = {"stores": [{"id": 1, "name": "武汉光谷店"}], "rate": np.float64(0.25), "n": np.int64(3),
             "none": None, "nested": [[1, 2], {"k": "v"}]}  # fmt: skip
    back = decode(encode(value).data)
    assert back == {"stores": [{"id": 1, "name": "武汉光谷店"}], "rate": 0.25, "n": 3, "none": None,
                    "nested": [[1, 2], {"k": "v"}]}  # fmt: skip
    assert decode(encode({"day": dt.date(2026, 11, 27)}).data) == {"day": "2026-11-27"}  # documented
    long = ["门店" * 50] * 100
    encoded = encode(long)
    assert len(encoded.data) < encoded.raw_size / 5 and decode(encoded.data) == long


@pytest.mark.parametrize(
    "payload",
    [b"", b"O2C", b"garbage" * 10, pickle.dumps({"a": 1})],
)
def test_cacheser004_foreign_bytes_are_rejected(payload):
    with pytest.raises(CorruptPayloadError):
        decode(payload)


def test_cacheser005_tampered_payload_is_rejected():
    data = bytearray(encode({"a": list(range(100))}).data)
    data[-3] ^= 0xFF
    with pytest.raises(CorruptPayloadError, match="checksum"):
        decode(bytes(data))
    with pytest.raises(CorruptPayloadError):
        decode(bytes(data[:-10]))


@dataclass(frozen=True)
class Filters:
    start: dt.date
    stores: tuple[int, ...] | None


def test_cachekey001_key_inputs():
    f = Filters(dt.date(2026, 11, 1), (1, 2))
    base = make_key("kpis", "svc.f", (f,), {}, 3, "all")
    assert base == make_key("kpis", "svc.f", (Filters(dt.date(2026, 11, 1), (1, 2)),), {}, 3, "all")
    assert base != make_key("kpis", "svc.f", (f,), {}, 4, "all")  # data version
    assert base != make_key("kpis", "svc.f", (f,), {}, 3, (1, 2))  # scope
    assert base != make_key("kpis", "svc.g", (f,), {}, 3, "all")
    swapped = make_key("kpis", "f", (), {"b": 2, "a": 1}, 1, "all")
    assert make_key("kpis", "f", (), {"a": 1, "b": 2}, 1, "all") == swapped
    assert normalize(f) == {"start": "2026-11-01", "stores": [1, 2]}
    with pytest.raises(TypeError):
        normalize(object())
