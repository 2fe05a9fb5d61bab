"""Drives the official Arachnid Shield SDK against schoon (see run.sh).

Every check is a function; the last line is the plain 'N passed, N failed' summary.
"""
import base64
import os
import pathlib
import sys
import traceback

# The SDK reads ARACHNID_SHIELD_URL at import time: it must be set before this import.
import arachnid_shield_sdk as sdk

IMAGES = pathlib.Path(os.environ["IMAGES"])
WEB = os.environ["WEB"]
PDQ_HEX = os.environ["PDQ"]

client = sdk.ArachnidShield(username=os.environ["SHIELD_USER"], password=os.environ["SHIELD_PASS"])
assert client.base_url == os.environ["ARACHNID_SHIELD_URL"], client.base_url


def b64(hex_str: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_str)).decode()


def test_pdq_known_and_unknown():
    known = b64(PDQ_HEX)
    flipped = bytes.fromhex(PDQ_HEX)
    near = b64((bytes([flipped[0] ^ 0xFF]) + flipped[1:]).hex())  # 8 bits away
    unknown = b64("00" * 32)
    res = client.scan_pdq_hashes(sdk.ScanMediaFromPdq(hashes=[known, near, unknown]))
    assert isinstance(res, sdk.ScannedPDQHashes)
    m = res.scanned_hashes[known]
    assert m.classification == "csam", m
    assert m.match_type == sdk.MatchType.Near, m
    assert m.near_match_details is not None
    n = res.scanned_hashes[near]
    assert n.classification == "csam", n
    u = res.scanned_hashes[unknown]
    assert u.classification == "no-known-match", u
    assert u.match_type is None and u.near_match_details is None, u


def test_media_exact_match_from_file():
    res = client.scan_media_from_file(IMAGES / "bridge-mods" / "aaa-orig.jpg")
    assert isinstance(res, sdk.ScannedMedia)
    assert res.matches_known_media, res
    assert res.classification == sdk.MediaClassification.CSAM, res
    assert res.match_type == sdk.MatchType.Exact, res
    assert res.size_bytes == (IMAGES / "bridge-mods" / "aaa-orig.jpg").stat().st_size
    assert len(res.sha1_base32) == 32 and len(res.sha256_hex) == 64, res


def test_media_near_match_from_bytes():
    data = (IMAGES / "bridge-mods" / "shrink-a-lot.jpg").read_bytes()
    res = client.scan_media_from_bytes(data, "image/jpeg")
    assert res.classification == sdk.MediaClassification.CSAM, res
    assert res.match_type == sdk.MatchType.Near, res
    assert len(res.near_match_details) >= 1, res
    assert res.near_match_details[0].timestamp == 0.0


def test_media_no_match():
    data = (IMAGES / "misc-images" / "c.png").read_bytes()
    res = client.scan_media_from_bytes(data, "image/png")
    assert not res.matches_known_media, res
    assert res.classification == sdk.MediaClassification.NoKnownMatch, res
    assert res.match_type is None and res.near_match_details == [], res


def test_url_scan_through_the_safe_fetcher():
    res = client.scan_media_from_url(f"{WEB}/bridge-mods/aaa-orig.jpg")
    assert res.classification == sdk.MediaClassification.CSAM, res
    assert res.match_type == sdk.MatchType.Exact, res
    other = client.scan_media_from_url(f"{WEB}/misc-images/c.png")
    assert other.classification == sdk.MediaClassification.NoKnownMatch, other


def test_url_errors_reach_the_sdk_as_detail():
    try:
        client.scan_media_from_url(f"{WEB}/missing.jpg")
    except sdk.ArachnidShieldException as e:
        assert "404" in str(e), str(e)
    else:
        raise AssertionError("expected ArachnidShieldException for a 404 URL")


def test_wrong_credentials_are_refused():
    bad = sdk.ArachnidShield(username=os.environ["SHIELD_USER"], password="wrong")
    try:
        bad.scan_pdq_hashes(sdk.ScanMediaFromPdq(hashes=[b64(PDQ_HEX)]))
    except sdk.ArachnidShieldException as e:
        assert "invalid API key" in str(e), str(e)
    else:
        raise AssertionError("expected ArachnidShieldException for a wrong secret")


def test_async_client():
    import asyncio

    async def go():
        c = sdk.ArachnidShieldAsync(username=os.environ["SHIELD_USER"], password=os.environ["SHIELD_PASS"])
        return await c.scan_media_from_bytes((IMAGES / "bridge-mods" / "aaa-orig.jpg").read_bytes(), "image/jpeg")

    res = asyncio.run(go())
    assert res.classification == sdk.MediaClassification.CSAM, res


def main() -> int:
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
            print(f"ok   {name}")
            passed += 1
        except Exception:  # noqa: BLE001 - report every failure
            print(f"FAIL {name}")
            traceback.print_exc()
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
