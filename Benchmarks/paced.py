#!/usr/bin/env python3
"""Paced load: POSTs one 400-event EventList every 400/RATE seconds for DURATION seconds over one
keep-alive connection, then prints p50/p99/max latency and the receiver's CPU use (from /proc)."""
import http.client, os, sys, time

host, port, rate, duration, pid = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
template = open(os.environ.get("AUDITSEAL_BODY", "eventlist.json")).read()
interval = 400.0 / rate
tick = os.sysconf("SC_CLK_TCK")

def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

conn = http.client.HTTPConnection(host, port)
latencies, n = [], 0
start_cpu, start = cpu(), time.monotonic()
next_at = start
while time.monotonic() - start < duration:
    n += 1
    body = template.replace("@@", f"paced-{os.getpid()}-{n}")
    t0 = time.monotonic()
    conn.request("POST", "/v1/audit?timeout=30s", body, {"Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    if r.status != 200: print("status", r.status, file=sys.stderr)
    latencies.append(time.monotonic() - t0)
    next_at += interval
    delay = next_at - time.monotonic()
    if delay > 0: time.sleep(delay)
elapsed = time.monotonic() - start
used = cpu() - start_cpu
latencies.sort()
p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
print(f"paced {rate:.0f} events/s: {n} batches in {elapsed:.1f}s; latency p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, max {latencies[-1]*1000:.2f} ms; receiver CPU {100*used/elapsed:.1f}% of one core")
