#!/usr/bin/env python3
"""Hostile clients against a running `auditseal serve`, with a well-behaved client alongside.

Used by HostileClientTests (short) and Benchmarks/hostile.sh (10 000 idle connections). Standard
library only. Prints one JSON object: what each attack got back, the well-behaved client's
latencies, and the auditIDs it had acknowledged.

Attacks, all at once, until the well-behaved client has sent its batches:
  --idle N          N connections kept open and silent (a third plain TCP, a third after a TLS
                    handshake, a third after one answered GET /healthz); each one the server closes
                    is reopened, so the pressure stays on
  --handshakes T    T threads completing TLS handshakes and hanging up, in a loop (a handshake flood)
  --header-floods   requests with 256 KiB of header lines, and with 20 000 small headers
  --limits          bodies one byte over maxBodyBytes (Content-Length and chunked), one event over
                    maxBatchEvents, and a gzip bomb decoding to 64 x maxBodyBytes
  --large T         T threads posting large valid batches at once, against maxInflightBytes
The well-behaved client posts --good-batches EventLists of --good-events events, one at a time on a
keep-alive connection (as the API server's webhook sender does), retrying a 503 after Retry-After
and a dropped connection at once; every attempt's latency is recorded. It runs in a process of its
own: beside the attack threads, in one interpreter, its latencies would include waits for Python's
global interpreter lock (a 4.7 MB batch is built while holding it), which are not the receiver's.
--attackers-nice N runs the attackers at that nice value and the well-behaved client at 0: attackers
on other machines, whose CPU is not the receiver's (here they share its cores). Needs root.
"""
import argparse
import ctypes
import gzip
import http.client
import json
import multiprocessing
import os
import queue
import selectors
import signal
import socket
import ssl
import threading
import time
import zlib
from urllib.parse import urlparse

ITEM = ('{"level":"Metadata","auditID":"%s","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/prod/deployments/web",'
        '"verb":"delete","user":{"username":"alice@example.com","groups":["system:authenticated"]},"sourceIPs":["10.20.30.40"],'
        '"userAgent":"kubectl/v1.31.2","objectRef":{"resource":"deployments","namespace":"prod","name":"web","apiGroup":"apps","apiVersion":"v1"},'
        '"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-11-28T10:00:00.123456Z",'
        '"stageTimestamp":"2026-11-28T10:00:00.134567Z","annotations":{"authorization.k8s.io/decision":"allow","pad":"%s"}}')


def event_list(prefix, start, count, pad=0):
    items = ",".join(ITEM % ("%s-%d" % (prefix, i), "x" * pad) for i in range(start, start + count))
    return ('{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[%s]}' % items).encode()


class Target:
    def __init__(self, args):
        u = urlparse(args.url)
        self.tls = u.scheme == "https"
        self.host, self.port, self.path = u.hostname, u.port, (u.path or "/") + "?timeout=30s"
        self.token = args.token
        self.context = None
        if self.tls:
            self.context = ssl.create_default_context(cafile=args.ca)
            if args.cert:
                self.context.load_cert_chain(args.cert, args.key)

    def connection(self, timeout=60):
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def headers(self, extra=None):
        h = {"Content-Type": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        h.update(extra or {})
        return h

    def raw_socket(self, handshake):
        s = socket.create_connection((self.host, self.port), timeout=30)
        if handshake and self.tls:
            s = self.context.wrap_socket(s, server_hostname=self.host)
        return s


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n


def status_of(target, method, body=b"", headers=None, chunked=False):
    """One request on a fresh connection, written by hand so that an early answer (413 while the
    body is still being sent) is read rather than lost to a reset: its status code, "closed" when
    the server hung up without one, or the exception's class name."""
    try:
        s = target.raw_socket(True)
    except Exception as e:
        return "noanswer_connect_" + type(e).__name__
    try:
        path = target.path if method == "POST" else "/healthz"
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % target.host]
        lines += ["%s: %s" % kv for kv in (headers or {}).items()]
        lines.append("Transfer-Encoding: chunked" if chunked else "Content-Length: %d" % len(body))
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        pieces = body if chunked else (body[i:i + 65536] for i in range(0, len(body), 65536))
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_READ)
        try:
            for piece in pieces:
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                if s.pending() if hasattr(s, "pending") else False:
                    break
                if sel.select(timeout=0):
                    break
            else:
                if chunked:
                    s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered early and closed; read what it said
        s.settimeout(60)
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        if data.startswith(b"HTTP/1.1 "):
            return data[9:12].decode()
        return "noanswer_closed"
    except Exception as e:
        return "noanswer_" + type(e).__name__
    finally:
        s.close()


def answered(target, tally, method, body=b"", headers=None, chunked=False):
    """status_of, tried again as a client would: when the connection closed before any answer (a
    new connection may be evicted before its request head arrives while a flood holds every
    slot), and after a 503 (the memory budget spent by the large batches). Retries are counted."""
    for _ in range(100):
        status = status_of(target, method, body() if callable(body) else body, headers, chunked)
        if status == "503":
            tally.add("probe_retries_503")
            time.sleep(0.2)
        elif status.startswith("noanswer_"):
            tally.add("probe_retries_noanswer")
            time.sleep(0.05)
        else:
            return status
    return status


def idle_flood(target, n, stop, tally):
    """Keeps n connections open and silent; reopens each one the server closes."""
    sel = selectors.DefaultSelector()

    def open_one(kind):
        try:
            if kind == "tcp":
                s = target.raw_socket(False)
            elif kind == "tls":
                s = target.raw_socket(True)
            else:  # served: one answered request, then silence
                s = target.raw_socket(True)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                s.settimeout(30)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        raise ConnectionError("closed")
                    data += chunk
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, kind)
            tally.add("opened_" + kind)
        except Exception as e:
            tally.add("open_failed_" + type(e).__name__)

    kinds = ["tcp", "tls", "served"]
    for i in range(n):
        if stop.is_set():
            break
        open_one(kinds[i % 3])
    tally.add("idle_open_at_start", len(sel.get_map()))
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (ssl.SSLWantReadError, BlockingIOError):
                continue
            except Exception:
                data = b""
            if not data:
                sel.unregister(s)
                s.close()
                tally.add("closed_by_server_" + key.data)
                open_one(key.data)
    for key in list(sel.get_map().values()):
        key.fileobj.close()


def handshake_flood(target, stop, tally):
    while not stop.is_set():
        try:
            s = target.raw_socket(True)
            s.close()
            tally.add("handshakes")
        except Exception as e:
            tally.add("handshake_failed_" + type(e).__name__)


def header_floods(target, tally):
    big = {"X-Flood-%d" % i: "v" * 1000 for i in range(256)}
    many = {"X-F%d" % i: "v" for i in range(20000)}
    for _ in range(3):
        tally.add("big_headers_" + answered(target, tally, "POST", b"{}", target.headers(big)))
        tally.add("many_headers_" + answered(target, tally, "POST", b"{}", target.headers(many)))


def limit_probes(target, max_body, max_events, tally):
    over = event_list("over", 0, 1)
    over = over + b" " * (max_body + 1 - len(over))
    tally.add("body_over_limit_" + answered(target, tally, "POST", over, target.headers()))

    def chunks():
        sent = 0
        while sent <= max_body:
            piece = b" " * min(1 << 20, max_body + 1 - sent)
            sent += len(piece)
            yield piece
    tally.add("chunked_over_limit_" + answered(target, tally, "POST", chunks, target.headers(), chunked=True))
    tally.add("events_over_limit_" + answered(target, tally, "POST", event_list("toomany", 0, max_events + 1), target.headers()))
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    zero = b"\0" * (1 << 20)
    bomb = b"".join(z.compress(zero) for _ in range(64 * max_body >> 20)) + z.flush()
    tally.add("gzip_bomb_%dB_" % len(bomb) + answered(target, tally, "POST", bomb, target.headers({"Content-Encoding": "gzip"})))
    tally.add("gzip_truncated_" + answered(target, tally, "POST", gzip.compress(event_list("trunc", 0, 50))[:-9], target.headers({"Content-Encoding": "gzip"})))


def large_batches(target, stop, tally, events, pad, thread_id):
    n = 0
    while not stop.is_set():
        body = event_list("large-%d-%d" % (thread_id, n), 0, events, pad)
        status = status_of(target, "POST", body, target.headers())
        tally.add("large_" + ("noanswer" if status.startswith("noanswer_") else status))
        n += 1


def good_client(target, prefix, batches, events, result):
    conn = target.connection()
    latencies, acked, retries, codes = [], [], 0, {}
    for b in range(batches):
        body = event_list(prefix, b * events, events)
        while True:
            start = time.monotonic()
            try:
                conn.request("POST", target.path, body=body, headers=target.headers())
                r = conn.getresponse()
                r.read()
                latencies.append(time.monotonic() - start)
                codes[str(r.status)] = codes.get(str(r.status), 0) + 1
                if r.status == 200:
                    break
                retries += 1
                time.sleep(float(r.getheader("Retry-After") or "1"))
            except Exception as e:
                latencies.append(time.monotonic() - start)
                codes[type(e).__name__] = codes.get(type(e).__name__, 0) + 1
                retries += 1
                conn.close()
                conn = target.connection()
        acked.extend("%s-%d" % (prefix, i) for i in range(b * events, (b + 1) * events))
    conn.close()
    latencies.sort()

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else None
    result.update({"attempts": len(latencies), "retries": retries, "codes": codes, "acked": len(acked),
                   "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0), "ackedIDs": acked})


def good_client_process(args, results):
    """The well-behaved client in its own process (spawned, not forked from a process with threads)."""
    # It ends with its parent (Linux PR_SET_PDEATHSIG): an attack process killed midway must not
    # leave it retrying against a receiver that is gone.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:
        return  # the parent is already gone
    if args.attackers_nice:
        os.setpriority(os.PRIO_PROCESS, 0, 0)  # inherited from the reniced attackers; back to normal
    good = {}
    good_client(Target(args), args.prefix, args.good_batches, args.good_events, good)
    results.put(good)


def rss_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--token")
    p.add_argument("--pid", type=int, help="the receiver's pid, for its peak RSS")
    p.add_argument("--idle", type=int, default=0)
    p.add_argument("--handshakes", type=int, default=0)
    p.add_argument("--header-floods", action="store_true")
    p.add_argument("--limits", action="store_true")
    p.add_argument("--max-body", type=int, default=8 << 20)
    p.add_argument("--max-events", type=int, default=100000)
    p.add_argument("--large", type=int, default=0)
    p.add_argument("--large-events", type=int, default=2000)
    p.add_argument("--large-pad", type=int, default=2000)
    p.add_argument("--good-batches", type=int, default=50)
    p.add_argument("--good-events", type=int, default=400)
    p.add_argument("--prefix", default="good")
    p.add_argument("--attackers-nice", type=int, default=0)
    args = p.parse_args()
    if args.attackers_nice:
        os.nice(args.attackers_nice)  # before any thread starts: Linux keeps a nice value per thread
    target = Target(args)
    tally, stop, threads = Tally(), threading.Event(), []

    def spawn(fn, *a):
        t = threading.Thread(target=fn, args=a, daemon=True)
        t.start()
        threads.append(t)
    started = time.monotonic()
    if args.idle:
        spawn(idle_flood, target, args.idle, stop, tally)
        # The flood is in place before the well-behaved client starts.
        while "idle_open_at_start" not in tally.counts and time.monotonic() - started < 600:
            time.sleep(0.05)
    for _ in range(args.handshakes):
        spawn(handshake_flood, target, stop, tally)
    for i in range(args.large):
        spawn(large_batches, target, stop, tally, args.large_events, args.large_pad, i)
    if args.header_floods:
        spawn(header_floods, target, tally)
    if args.limits:
        spawn(limit_probes, target, args.max_body, args.max_events, tally)
    spawned = multiprocessing.get_context("spawn")
    results = spawned.Queue()
    client = spawned.Process(target=good_client_process, args=(args, results))
    client.start()
    while True:
        try:
            good = results.get(timeout=1)
            break
        except queue.Empty:
            if not client.is_alive():
                raise SystemExit("hostile.py: the well-behaved client's process ended with %s and no result" % client.exitcode)
    client.join()
    # One-shot attacks finish; the looping ones stop with the well-behaved client.
    stop.set()
    for t in threads:
        t.join(timeout=120)
    # With the floods over, a large batch is answered 200. During them a large batch may find its
    # connection evicted before its request head (how often depends on the machine's load), so that
    # is where the receiver's serving it is asserted; a 503 (budget spent) or a lost connection is
    # tried again, as the API server does.
    if args.large:
        for n in range(20):
            status = status_of(target, "POST", event_list("large-after-%d" % n, 0, args.large_events, args.large_pad), target.headers())
            tally.add("after_floods_large_" + ("noanswer" if status.startswith("noanswer_") else status))
            if status == "200":
                break
    out = {"seconds": round(time.monotonic() - started, 2), "attacks": dict(sorted(tally.counts.items())), "good": good}
    if args.pid:
        out["receiverPeakRSSKiB"] = rss_kb(args.pid, "VmHWM")
        out["receiverRSSKiB"] = rss_kb(args.pid, "VmRSS")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
