"""Small helpers shared by the independent Python checks, written from Protocol/ alone."""
import base64

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(raw):
    n = int.from_bytes(raw, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def did_of(pk):
    """did:key text form of a raw Ed25519 public key (identity.md)."""
    return "did:key:z" + b58encode(b"\xed\x01" + pk)


def b64e(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64d(text):
    """Strict unpadded base64url (encoding.md)."""
    if "=" in text or any(c in text for c in "+/ \n"):
        raise ValueError("not unpadded base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64e(raw) != text:
        raise ValueError("non-canonical base64url")
    return raw
