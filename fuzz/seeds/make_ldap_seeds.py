#!/usr/bin/env python3
"""Writes small seed inputs for the `ldap_message` fuzz target into fuzz/seeds/ldap_message:
an anonymous bind, searches (equality, substring, and/or/not, paged), a modify, an unbind."""
import os

def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(b)]) + b + body

def s(x): return tlv(0x04, x.encode())
def i(n, tag=0x02): return tlv(tag, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big"))
def msg(mid, op, controls=b""): return tlv(0x30, i(mid) + op + (tlv(0xa0, controls) if controls else b""))

def search(base, scope, flt, attrs):
    body = s(base) + i(scope, 0x0a) + i(0, 0x0a) + i(0) + i(0) + tlv(0x01, b"\x00") + flt
    body += tlv(0x30, b"".join(s(a) for a in attrs))
    return tlv(0x63, body)

def eq(a, v): return tlv(0xa3, s(a) + s(v))
def present(a): return tlv(0x87, a.encode())
def substr(a, any_): return tlv(0xa4, s(a) + tlv(0x30, tlv(0x81, any_.encode())))

out = os.path.join(os.path.dirname(__file__), "ldap_message")
os.makedirs(out, exist_ok=True)
paged = tlv(0x30, s("1.2.840.113556.1.4.319") + tlv(0x04, tlv(0x30, i(10) + s(""))))
seeds = {
    "bind": msg(1, tlv(0x60, i(3) + s("") + tlv(0x80, b""))),
    "search_mail": msg(2, search("dc=example,dc=test", 2, eq("mail", "user0@example.test"), ["userCertificate;binary", "userSMIMECertificate"])),
    "search_or": msg(3, search("ou=people,dc=example,dc=test", 1, tlv(0xa1, substr("cn", "lid") + eq("sn", "Bob") + tlv(0xa2, present("uid"))), [])),
    "search_paged": msg(4, search("dc=example,dc=test", 2, present("objectClass"), ["1.1"]), paged),
    "root_dse": msg(5, search("", 0, present("objectClass"), ["+"])),
    "modify": msg(6, tlv(0x66, s("uid=user0,ou=people,dc=example,dc=test") + tlv(0x30, tlv(0x30, i(2, 0x0a) + tlv(0x30, s("cn") + tlv(0x31, s("x"))))))),
    "unbind": msg(7, tlv(0x42, b"")),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
