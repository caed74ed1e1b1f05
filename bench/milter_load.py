#!/usr/bin/env python3
"""Milter (protocol 6) load generator for bench/server: replays corpus messages against a
milter server the way Postfix talks to it, from N concurrent connections, and prints one
machine-readable RESULT line (same keys as bench/server.lua's wrk RESULT line).

    milter_load.py HOST:PORT LIST CONCURRENCY SECONDS [WARMUP_SECONDS]

LIST holds message paths, one a line. Each connection negotiates like Postfix 3.7 (version 6,
all actions offered, every protocol step offered), honours what the filter asks to skip or not
to answer, then sends message after message on the same connection (one SMTP session:
CONNECT/HELO once, then MAIL, RCPT, DATA, headers, EOH, body chunks, EOB per message), waiting
for the end-of-body answer before the next message. Latency is from MAIL to the final
end-of-body reply (what Postfix waits for), per message. Standard library only; one process
with one thread per connection (the GIL makes the client itself cost CPU: the server's CPU per
message is measured separately by bench/server from /proc).
"""
import socket
import struct
import sys
import threading
import time

NO_CONNECT, NO_HELO, NO_MAIL, NO_RCPT, NO_BODY, NO_HDRS, NO_EOH = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40
NR_HDR, NO_UNKNOWN, NO_DATA = 0x80, 0x100, 0x200
NR_CONN, NR_HELO, NR_MAIL, NR_RCPT, NR_DATA, NR_UNKN, NR_EOH, NR_BODY = (
    0x1000, 0x2000, 0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000)
PROTO_OFFER = 0x1FFFFF & ~0x100000 & ~0x400 & ~0x800  # no leading-space, skip or rejected rcpts


def split_message(raw):
    """(headers [(name, value)], body bytes with CRLF line ends)."""
    raw = raw.replace(b"\r\n", b"\n")
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        head, body = raw, b""
    headers = []
    for line in head.split(b"\n"):
        if line[:5] == b"From " and not headers:
            continue  # mbox separator
        if line[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + b"\r\n" + line)
            continue
        name, colon, value = line.partition(b":")
        if not colon:
            continue
        headers.append((name.strip(), value[1:] if value[:1] == b" " else value))
    return headers, body.replace(b"\n", b"\r\n")


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, cmd, data=b""):
        self.s.sendall(struct.pack("!I", len(data) + 1) + cmd + data)

    def recv(self):
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack("!I", self.buf[:4])
                if len(self.buf) >= 4 + n:
                    pkt, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    return pkt[:1], pkt[1:]
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("milter server closed the connection")
            self.buf += chunk

    def reply(self):
        """The next answer that is not progress/modification: (code, data)."""
        while True:
            cmd, data = self.recv()
            if cmd in (b"p", b"h", b"i", b"m", b"e", b"+", b"-", b"2", b"b", b"l"):
                continue
            return cmd, data


def worker(addr, messages, start_index, stop_at, measure_from, lat, counts, errors):
    host, port = addr
    try:
        c = Conn(host, port)
        c.send(b"O", struct.pack("!III", 6, 0x1FF, PROTO_OFFER))
        cmd, data = c.recv()
        if cmd != b"O" or len(data) < 12:
            raise ConnectionError(f"bad OPTNEG reply {cmd!r}")
        _, _, proto = struct.unpack("!III", data[:12])

        def step(flag_no, flag_nr, cmd, payload, macros=None):
            if proto & flag_no:
                return None
            if macros is not None:
                c.send(b"D", cmd + macros)
            c.send(cmd, payload)
            if proto & flag_nr:
                return None
            r, d = c.reply()
            return r

        step(NO_CONNECT, NR_CONN, b"C", b"client.example.net\x004" + struct.pack("!H", 40000) +
             b"192.0.2.1\x00", b"j\x00mx.example.test\x00{daemon_name}\x00smtpd\x00")
        step(NO_HELO, NR_HELO, b"H", b"client.example.net\x00")
        i = start_index
        while time.monotonic() < stop_at:
            headers, body = messages[i % len(messages)]
            i += 1
            t0 = time.monotonic()
            final = None
            r = step(NO_MAIL, NR_MAIL, b"M", b"<sender@example.net>\x00",
                     b"i\x00" + f"Q{i:010X}".encode() + b"\x00{mail_addr}\x00sender@example.net\x00")
            if r not in (None, b"c"):
                final = r
            if final is None:
                r = step(NO_RCPT, NR_RCPT, b"R", b"<user@example.test>\x00",
                         b"{rcpt_addr}\x00user@example.test\x00")
                if r not in (None, b"c"):
                    final = r
            if final is None:
                step(NO_DATA, NR_DATA, b"T", b"")
                for name, value in headers:
                    r = step(NO_HDRS, NR_HDR, b"L", name + b"\x00" + value + b"\x00")
                    if r not in (None, b"c"):
                        final = r
                        break
            if final is None:
                step(NO_EOH, NR_EOH, b"N", b"")
                if not proto & NO_BODY:
                    for off in range(0, len(body), 65535):
                        c.send(b"B", body[off:off + 65535])
                        if not proto & NR_BODY:
                            c.reply()
                c.send(b"E", b"")
                final, _ = c.reply()
            else:
                c.send(b"A", b"")  # message over early: abort, next message
            t1 = time.monotonic()
            if t0 >= measure_from:
                lat.append(t1 - t0)
                counts[final] = counts.get(final, 0) + 1
        c.send(b"Q", b"")
        c.s.close()
    except Exception as e:  # noqa: BLE001 - reported, the run goes on
        errors.append(repr(e))


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    host, _, port = sys.argv[1].rpartition(":")
    paths = [p for p in open(sys.argv[2]).read().split("\n") if p]
    conc, secs = int(sys.argv[3]), float(sys.argv[4])
    warmup = float(sys.argv[5]) if len(sys.argv) > 5 else 3.0
    messages = [split_message(open(p, "rb").read()) for p in paths]
    lat, counts, errors = [], {}, []
    now = time.monotonic()
    measure_from, stop_at = now + warmup, now + warmup + secs
    threads = [threading.Thread(target=worker, args=((host, int(port)), messages,
                                                      k * len(messages) // conc, stop_at,
                                                      measure_from, lat, counts, errors))
               for k in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat.sort()
    n = len(lat)
    pct = lambda q: int(lat[min(n - 1, int(q * n))] * 1e6) if n else 0  # noqa: E731
    replies = ",".join(f"{k.decode()}:{v}" for k, v in sorted(counts.items()) if k)
    print(f"RESULT requests={n} duration_us={int(secs * 1e6)} p50_us={pct(0.50)} "
          f"p99_us={pct(0.99)} non2xx=0 socket_errors={len(errors)} replies={replies}")
    for e in errors[:5]:
        print(f"error: {e}", file=sys.stderr)


if __name__ == "__main__":
    main()
