#!/usr/bin/env python3
"""A minimal Dovecot auth server (the protocol Postfix's smtpd_sasl_type=dovecot speaks), for
tests only: PLAIN against a fixed user:password list, so Postfix's SMTP AUTH, and with it
{sasl_username} / the policy request's sasl_username, are real. Dovecot itself is not installed on
the test machines; this speaks the same wire protocol (auth protocol 1.x: VERSION/MECH/SPID/CUID/
COOKIE/DONE handshake, AUTH/CONT/OK/FAIL).
Usage: fake_dovecot_auth.py PORT USERS_FILE   (USERS_FILE: user:password per line)"""
import base64, os, socket, sys, threading

PORT, USERS = int(sys.argv[1]), {}
for line in open(sys.argv[2]):
    if ":" in line:
        u, p = line.strip().split(":", 1)
        USERS[u] = p


def handle(conn):
    f = conn.makefile("rwb", buffering=0)
    f.write(b"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\n"
            b"SPID\t%d\nCUID\t1\nCOOKIE\t%s\nDONE\n" % (os.getpid(), os.urandom(16).hex().encode()))
    waiting = set()  # AUTH ids that got an empty CONT (PLAIN without initial response)

    def plain(rid, data):
        parts = data.split(b"\0")
        if len(parts) == 3 and USERS.get(parts[1].decode()) == parts[2].decode():
            f.write(b"OK\t%s\tuser=%s\n" % (rid, parts[1]))
        else:
            f.write(b"FAIL\t%s\n" % rid)

    for raw in f:
        fields = raw.rstrip(b"\n").split(b"\t")
        if fields[0] == b"AUTH" and len(fields) >= 3:
            rid = fields[1]
            resp = [x[5:] for x in fields[3:] if x.startswith(b"resp=")]
            if fields[2].upper() != b"PLAIN":
                f.write(b"FAIL\t%s\n" % rid)
            elif resp:
                plain(rid, base64.b64decode(resp[0]))
            else:
                waiting.add(rid)
                f.write(b"CONT\t%s\t\n" % rid)
        elif fields[0] == b"CONT" and len(fields) >= 3 and fields[1] in waiting:
            waiting.discard(fields[1])
            plain(fields[1], base64.b64decode(fields[2]))
    conn.close()


def serve(conn):
    try:
        handle(conn)
    except OSError:
        conn.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", PORT))
s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
