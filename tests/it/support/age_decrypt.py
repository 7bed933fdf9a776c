#!/usr/bin/env python3
"""An independent age v1 decryptor for the credential tests (tests/it/credentials.rs).

Written from the age specification (c2sp.org/age) and the ssh-ed25519 / ssh-rsa recipient
definitions of the reference implementation, with only the `cryptography` package for the
primitives: it shares no code with the Rust age crate the connector encrypts with, so a round trip
through it shows that the connector's files are real age files that any age client can open.

Usage (the age file on stdin, the plaintext on stdout; any problem exits 1 with a message):

    age_decrypt.py x25519 AGE-SECRET-KEY-1... [RECIPIENT]   # RECIPIENT, if given, must match
    age_decrypt.py ssh-ed25519 SEED_HEX                     # the 32-byte Ed25519 private seed
    age_decrypt.py ssh-rsa PRIVATE_KEY_PEM_PATH
    age_decrypt.py rsa-keygen PRIVATE_KEY_PEM_PATH          # writes a 2048-bit key, prints its public JWK
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION_LINE = b"age-encryption.org/v1\n"
X25519_LABEL = b"age-encryption.org/v1/X25519"
SSH_ED25519_LABEL = b"age-encryption.org/v1/ssh-ed25519"
SSH_RSA_LABEL = b"age-encryption.org/v1/ssh-rsa"
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16


class AgeError(Exception):
    pass


# --- encodings -------------------------------------------------------------------------------

_B64_CHARS = re.compile(rb"^[A-Za-z0-9+/]*$")


def b64decode_strict(data: bytes) -> bytes:
    """Unpadded standard base64, canonical only (the spec's rule for every header field)."""
    if not _B64_CHARS.match(data) or len(data) % 4 == 1:
        raise AgeError("invalid base64 in header")
    try:
        decoded = base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)
    except binascii.Error as e:
        raise AgeError(f"invalid base64 in header: {e}") from None
    if base64.b64encode(decoded).rstrip(b"=") != data:
        raise AgeError("non-canonical base64 in header")
    return decoded


def b64encode_raw(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_polymod(values):
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if ((top >> i) & 1) else 0
    return chk


def _hrp_expand(hrp):
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def _convert_bits(data, from_bits, to_bits, pad):
    acc, bits, out = 0, 0, []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or ((acc << (to_bits - bits)) & maxv):
        raise AgeError("invalid Bech32 padding")
    return out


def bech32_decode(text: str):
    """BIP 173 Bech32 (no length limit, as age uses it): returns (hrp, bytes)."""
    if text.lower() != text and text.upper() != text:
        raise AgeError("mixed-case Bech32")
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        raise AgeError("malformed Bech32")
    hrp, data = text[:pos], text[pos + 1 :]
    if any(c not in _BECH32_CHARSET for c in data):
        raise AgeError("invalid Bech32 character")
    values = [_BECH32_CHARSET.index(c) for c in data]
    if _bech32_polymod(_hrp_expand(hrp) + values) != 1:
        raise AgeError("bad Bech32 checksum")
    return hrp, bytes(_convert_bits(values[:-6], 5, 8, False))


def bech32_encode(hrp: str, payload: bytes) -> str:
    values = _convert_bits(payload, 8, 5, True)
    polymod = _bech32_polymod(_hrp_expand(hrp) + values + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32_CHARSET[v] for v in values + checksum)


def ssh_string(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def ssh_mpint(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    if raw and raw[0] & 0x80:
        raw = b"\x00" + raw
    return ssh_string(raw)


def ssh_tag(wire: bytes) -> bytes:
    """The 4-byte key id of the ssh-* stanzas, base64: SHA-256 of the SSH wire-format key."""
    return b64encode_raw(hashlib.sha256(wire).digest()[:4])


# --- primitives ------------------------------------------------------------------------------


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt or None, info=info).derive(ikm)


def x25519(scalar: bytes, point: bytes) -> bytes:
    """RFC 7748 X25519 (the scalar is clamped); refuses an all-zero result as age requires."""
    try:
        return X25519PrivateKey.from_private_bytes(scalar).exchange(
            X25519PublicKey.from_public_bytes(point)
        )
    except ValueError as e:  # OpenSSL refuses small-order points (an all-zero shared secret)
        raise AgeError(f"X25519 failed: {e}") from None


def x25519_base(scalar: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(scalar).public_key().public_bytes_raw()


def unwrap_file_key(wrap_key: bytes, body: bytes) -> bytes:
    if len(body) != 32:
        raise AgeError("stanza body is not 32 bytes")
    try:
        return ChaCha20Poly1305(wrap_key).decrypt(b"\x00" * 12, body, None)
    except Exception:
        raise AgeError("the file key does not decrypt (wrong key or tampered stanza)") from None


# --- header ----------------------------------------------------------------------------------


def parse_header(data: bytes):
    """Returns (stanzas, header bytes up to and including '---', MAC, payload)."""
    if not data.startswith(VERSION_LINE):
        raise AgeError("not an age v1 file (bad version line)")
    pos = len(VERSION_LINE)
    stanzas = []
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            raise AgeError("header ends early")
        line = data[pos:end]
        if line.startswith(b"--- "):
            mac_b64 = line[4:]
            if len(mac_b64) != 43:
                raise AgeError("MAC line has the wrong length")
            return stanzas, data[: pos + 3], b64decode_strict(mac_b64), data[end + 1 :]
        if not line.startswith(b"-> "):
            raise AgeError("expected a stanza or the MAC line")
        args = line[3:].split(b" ")
        if not args or any(not a or any(c < 0x21 or c > 0x7E for c in a) for a in args):
            raise AgeError("malformed stanza arguments")
        pos = end + 1
        body = b""
        while True:
            end = data.find(b"\n", pos)
            if end < 0:
                raise AgeError("stanza body ends early")
            body_line = data[pos:end]
            pos = end + 1
            if len(body_line) > 64:
                raise AgeError("stanza body line longer than 64 columns")
            body += body_line
            if len(body_line) < 64:
                break
        stanzas.append(([a.decode("ascii") for a in args], b64decode_strict(body)))


def verify_mac(file_key: bytes, header: bytes, mac: bytes) -> None:
    hmac_key = hkdf_sha256(file_key, b"", b"header")
    expected = hmac.new(hmac_key, header, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, mac):
        raise AgeError("header MAC does not verify")


# --- payload ---------------------------------------------------------------------------------


def decrypt_payload(file_key: bytes, payload: bytes) -> bytes:
    if len(payload) < 16:
        raise AgeError("payload has no nonce")
    nonce, ciphertext = payload[:16], payload[16:]
    aead = ChaCha20Poly1305(hkdf_sha256(file_key, nonce, b"payload"))
    chunk = CHUNK_SIZE + TAG_SIZE
    if not ciphertext:
        raise AgeError("payload has no chunk")
    out = bytearray()
    count = (len(ciphertext) + chunk - 1) // chunk
    for i in range(count):
        part = ciphertext[i * chunk : (i + 1) * chunk]
        last = i == count - 1
        chunk_nonce = i.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        try:
            plain = aead.decrypt(chunk_nonce, part, None)
        except Exception:
            raise AgeError(f"payload chunk {i} does not decrypt") from None
        if last and not plain and i > 0:
            raise AgeError("empty final chunk after other chunks")
        out += plain
    return bytes(out)


# --- identities ------------------------------------------------------------------------------


def x25519_identity(identity: str, expected_recipient):
    hrp, secret = bech32_decode(identity)
    if hrp != "age-secret-key-" or len(secret) != 32:
        raise AgeError("not an age X25519 identity")
    ours = x25519_base(secret)
    if expected_recipient is not None and bech32_encode("age", ours) != expected_recipient:
        raise AgeError("the recipient does not belong to the identity")

    def unwrap(stanzas):
        for args, body in stanzas:
            if args[0] != "X25519":
                continue
            if len(args) != 2:
                raise AgeError("X25519 stanza needs exactly 2 arguments")
            share = b64decode_strict(args[1].encode())
            if len(share) != 32:
                raise AgeError("X25519 ephemeral share is not 32 bytes")
            shared = x25519(secret, share)
            wrap_key = hkdf_sha256(shared, share + ours, X25519_LABEL)
            return unwrap_file_key(wrap_key, body)
        raise AgeError("no X25519 stanza")

    return unwrap


def ssh_ed25519_identity(seed: bytes):
    if len(seed) != 32:
        raise AgeError("an Ed25519 seed is 32 bytes")
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    wire = ssh_string(b"ssh-ed25519") + ssh_string(public)
    # The Ed25519 secret scalar (SHA-512 of the seed, first half) as an X25519 key, and its public
    # point: the Montgomery form of the Ed25519 public key.
    scalar = hashlib.sha512(seed).digest()[:32]
    ours = x25519_base(scalar)
    tweak = hkdf_sha256(b"", wire, SSH_ED25519_LABEL)

    def unwrap(stanzas):
        for args, body in stanzas:
            if args[0] != "ssh-ed25519":
                continue
            if len(args) != 3:
                raise AgeError("ssh-ed25519 stanza needs exactly 3 arguments")
            if args[1].encode() != ssh_tag(wire):
                raise AgeError("ssh-ed25519 stanza is for another key")
            share = b64decode_strict(args[2].encode())
            if len(share) != 32:
                raise AgeError("ssh-ed25519 ephemeral share is not 32 bytes")
            shared = x25519(tweak, x25519(scalar, share))
            wrap_key = hkdf_sha256(shared, share + ours, SSH_ED25519_LABEL)
            return unwrap_file_key(wrap_key, body)
        raise AgeError("no ssh-ed25519 stanza")

    return unwrap


def ssh_rsa_identity(pem_path: str):
    with open(pem_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    numbers = key.public_key().public_numbers()
    wire = ssh_string(b"ssh-rsa") + ssh_mpint(numbers.e) + ssh_mpint(numbers.n)

    def unwrap(stanzas):
        for args, body in stanzas:
            if args[0] != "ssh-rsa":
                continue
            if len(args) != 2:
                raise AgeError("ssh-rsa stanza needs exactly 2 arguments")
            if args[1].encode() != ssh_tag(wire):
                raise AgeError("ssh-rsa stanza is for another key")
            try:
                return key.decrypt(
                    body,
                    padding.OAEP(
                        mgf=padding.MGF1(algorithm=hashes.SHA256()),
                        algorithm=hashes.SHA256(),
                        label=SSH_RSA_LABEL,
                    ),
                )
            except ValueError:
                raise AgeError("the file key does not decrypt with RSA-OAEP") from None
        raise AgeError("no ssh-rsa stanza")

    return unwrap


def decrypt(data: bytes, unwrap) -> bytes:
    stanzas, header, mac, payload = parse_header(data)
    file_key = unwrap(stanzas)
    if len(file_key) != 16:
        raise AgeError("the file key is not 16 bytes")
    verify_mac(file_key, header, mac)
    return decrypt_payload(file_key, payload)


def rsa_keygen(pem_path: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(pem_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    numbers = key.public_key().public_numbers()

    def b64url(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return json.dumps({"kty": "RSA", "n": b64url(numbers.n), "e": b64url(numbers.e)})


def main(argv) -> int:
    try:
        if len(argv) >= 2 and argv[0] == "rsa-keygen":
            print(rsa_keygen(argv[1]))
            return 0
        if len(argv) in (2, 3) and argv[0] == "x25519":
            unwrap = x25519_identity(argv[1], argv[2] if len(argv) == 3 else None)
        elif len(argv) == 2 and argv[0] == "ssh-ed25519":
            unwrap = ssh_ed25519_identity(bytes.fromhex(argv[1]))
        elif len(argv) == 2 and argv[0] == "ssh-rsa":
            unwrap = ssh_rsa_identity(argv[1])
        else:
            print(__doc__, file=sys.stderr)
            return 2
        sys.stdout.buffer.write(decrypt(sys.stdin.buffer.read(), unwrap))
        return 0
    except AgeError as e:
        print(f"age_decrypt: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
