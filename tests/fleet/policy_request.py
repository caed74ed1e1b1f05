#!/usr/bin/env python3
"""One Postfix policy-delegation request for bob@acme.test to a mailsiftd policy listener.

Usage: policy_request.py [--timed] [--timeout S] PORT N
Prints the listener's action line; with --timed, the line with spaces as '_' and the elapsed
milliseconds. Shared by tests/fleet/two_nodes.sh and tests/fleet/faults.sh.
"""
import argparse
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("--timed", action="store_true")
ap.add_argument("--timeout", type=float, default=30)
ap.add_argument("port", type=int)
ap.add_argument("n")
a = ap.parse_args()
n = a.n
req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=bob@acme.test\n"
       f"sender=bob@acme.test\nrecipient=friend{n}@far.example\ninstance=inst{n}\n"
       f"client_address=198.51.100.7\nqueue_id=Q{n}\n\n")
t0 = time.monotonic()
s = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
s.sendall(req.encode())
buf = b""
while not buf.endswith(b"\n\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    buf += chunk
line = buf.decode().strip()
if a.timed:
    print(line.replace(" ", "_"), round((time.monotonic() - t0) * 1000, 1))
else:
    print(line)
