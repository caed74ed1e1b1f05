#!/usr/bin/env python3
"""Loopback SMTP sink for the ipwatch integration test: accepts every message and appends one
JSON line per message to OUT with the TCP peer address the mail came from (the source address
Postfix's smtp client bound: smtp_bind_address of the pool transport), the HELO name, the
envelope and the Subject. With RAWDIR, each message is also written there as it arrived
(dot-unstuffed, CRLF kept: what a DKIM verifier needs) and the line names the file ("raw").
Usage: smtp_sink.py PORT OUT [RAWDIR]"""
import itertools
import json
import socketserver
import sys

PORT = int(sys.argv[1])
OUT = sys.argv[2]
RAWDIR = sys.argv[3] if len(sys.argv) > 3 else ""
COUNTER = itertools.count(1)  # next() is atomic under the GIL (threaded server)


class Handler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write((text + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        peer = self.client_address[0]
        helo, mail_from, rcpts = "", "", []
        self.reply("220 sink.invalid ESMTP test sink")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            up = cmd.upper()
            if up.startswith("EHLO") or up.startswith("HELO"):
                helo = cmd[5:].strip()
                self.reply("250-sink.invalid\r\n250 8BITMIME")
            elif up.startswith("MAIL FROM:"):
                mail_from, rcpts = cmd[10:].strip(), []
                self.reply("250 2.1.0 ok")
            elif up.startswith("RCPT TO:"):
                rcpts.append(cmd[8:].strip())
                self.reply("250 2.1.5 ok")
            elif up == "DATA":
                self.reply("354 end with .")
                subject = ""
                raw = []
                while True:
                    d = self.rfile.readline()
                    if not d or d in (b".\r\n", b".\n"):
                        break
                    raw.append(d[1:] if d.startswith(b"..") else d)
                    t = d.decode("utf-8", "replace")
                    if not subject and t.lower().startswith("subject:"):
                        subject = t[8:].strip()
                record = {"peer": peer, "helo": helo, "from": mail_from, "rcpts": rcpts,
                          "subject": subject}
                if RAWDIR:
                    path = "%s/%d.eml" % (RAWDIR, next(COUNTER))
                    with open(path, "wb") as f:
                        f.write(b"".join(raw))
                    record["raw"] = path
                with open(OUT, "a") as f:
                    f.write(json.dumps(record) + "\n")
                self.reply("250 2.0.0 queued by sink")
            elif up == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            elif up == "RSET":
                mail_from, rcpts = "", []
                self.reply("250 2.0.0 ok")
            else:
                self.reply("250 2.0.0 ok")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
