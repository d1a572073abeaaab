"""A real SMTP server for Rendez's tests, built on aiosmtpd (Debian: python3-aiosmtpd).

Usage: server.py PORT MAILDIR [CERT KEY]

Every accepted message is written to MAILDIR as one JSON file (envelope and raw data), or dropped
when MAILDIR is - (a sink for benchmarks). Recipients
choose their fate by their local part: perm-* is refused with 550, temp-* deferred with 451,
flaky<N>-* deferred N times then accepted. With CERT and KEY, STARTTLS is offered and required.
Prints READY when it listens; stops when its standard input closes.
"""
import asyncio
import json
import os
import ssl
import sys
import threading
import uuid
from collections import Counter

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, maildir):
        self.maildir = maildir
        self.deferred = Counter()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("perm"):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if local.startswith("temp"):
            return "451 4.3.0 <%s>: try again later" % address
        if local.startswith("flaky"):
            times = int("".join(c for c in local[5:] if c.isdigit()) or "1")
            if self.deferred[address] < times:
                self.deferred[address] += 1
                return "451 4.3.0 <%s>: greylisted, try again" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = uuid.uuid4().hex
        if self.maildir == "-":
            return "250 2.0.0 Ok: queued as " + name
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.original_content.decode("utf-8", "replace"),
            "tls": session.ssl is not None,
        }
        tmp = os.path.join(self.maildir, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.maildir, name + ".json"))
        return "250 2.0.0 Ok: queued as " + name


def main():
    port, maildir = int(sys.argv[1]), sys.argv[2]
    kwargs = {}
    if len(sys.argv) > 4:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        kwargs = {"tls_context": context, "require_starttls": True}
    controller = Controller(Handler(maildir), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("READY", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
