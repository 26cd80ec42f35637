#!/usr/bin/env python3
"""Idle and trickling clients against one proxy: what they cost it, and what a normal client
sees meanwhile. Loopback only, bounded in time.

    idle.py PORT PID[,PID...] [--idle N] [--trickle M] [--seconds S]

1. N keep-alive clients each send one request, read the answer and stay connected, idle.
2. M clients send a request header one byte per second and never finish it.
3. Meanwhile one normal client sends requests on its own keep-alive connection.
Prints one JSON line: RSS and descriptors of the proxy's processes before and after, per
connection, how many idle clients the proxy still holds after S seconds, and the normal
client's latency percentiles.
"""
import argparse
import json
import os
import socket
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def fds(pids):
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids)


def read_response(sock):
    """Reads one response with a Content-Length body; returns True when one arrived whole."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        body += chunk
    return True


def still_open(sock):
    """True while the peer has not closed the connection (a non-blocking peek)."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("pids")
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--trickle", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    pids = [int(p) for p in args.pids.split(",") if p]
    addr = ("127.0.0.1", args.port)

    base_rss, base_fds = rss_kib(pids), fds(pids)
    idle, answered = [], 0
    for _ in range(args.idle):
        s = socket.create_connection(addr, timeout=10)
        try:
            s.sendall(REQUEST)
            answered += read_response(s)
        except OSError:
            pass
        idle.append(s)
    idle_rss, idle_fds = rss_kib(pids), fds(pids)

    trickle = []
    for _ in range(args.trickle):
        s = socket.create_connection(addr, timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nX-Slow: ")
        trickle.append(s)
    normal = socket.create_connection(addr, timeout=10)
    latencies, failures = [], 0
    deadline = time.monotonic() + args.seconds
    next_byte = time.monotonic()
    while time.monotonic() < deadline:
        if time.monotonic() >= next_byte:
            for s in trickle:
                try:
                    s.send(b"a")
                except OSError:
                    pass
            next_byte += 1.0
        t0 = time.perf_counter()
        try:
            normal.sendall(REQUEST)
            answered_now = read_response(normal)
        except OSError:
            answered_now = False
        if not answered_now:
            failures += 1
            normal.close()
            normal = socket.create_connection(addr, timeout=10)
            continue
        latencies.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.01)
    all_rss, all_fds = rss_kib(pids), fds(pids)
    idle_open = sum(still_open(s) for s in idle)
    trickle_open = sum(still_open(s) for s in trickle)
    for s in idle + trickle + [normal]:
        s.close()
    latencies.sort()

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))], 3) if latencies else None

    print(json.dumps({
        "idle_clients": args.idle, "answered": answered, "trickling_clients": args.trickle,
        "rss_base_kib": base_rss, "rss_idle_kib": idle_rss, "rss_all_kib": all_rss,
        "kib_per_idle_conn": round((idle_rss - base_rss) / max(1, args.idle), 2),
        "kib_per_conn_all": round((all_rss - base_rss) / max(1, args.idle + args.trickle), 2),
        "fds_base": base_fds, "fds_idle": idle_fds, "fds_all": all_fds,
        "idle_open_after_s": idle_open, "trickling_open_after_s": trickle_open,
        "normal_requests": len(latencies), "normal_failures": failures, "normal_p50_ms": pct(0.5), "normal_p99_ms": pct(0.99),
    }))


if __name__ == "__main__":
    main()
