#!/usr/bin/env python3
"""Summarises `perf report --no-children --sort comm,dso,symbol -g none` (stdin) for one thread
name (argv[1]) as Markdown: where that thread's time goes by category, then its top symbols.
Used by bench-report.sh on the mock's `bench-server` threads."""
import re
import sys

COMM = sys.argv[1]
CATEGORIES = [
    ("ES256 and other cryptography (aws-lc)", re.compile(
        r"ecp_|nistz256|bignum|Lbignum|sha256|aes_|beeu|bn_|CBB|rdrand|jent|p256|ecdsa|EC_|ec_GFp|aws_lc", re.I)),
    ("allocator", re.compile(r"malloc|free|_int_|realloc|calloc|consolidate|unlink_chunk|__rust_alloc|__rdl_|__rust_dealloc")),
]
line_re = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(.*?)(?:\s{2,}.*)?$")

rows = []
for line in sys.stdin:
    m = line_re.match(line)
    if m and m.group(2) == COMM:
        rows.append((float(m.group(1)), m.group(3), m.group(4), m.group(5)))
total = sum(r[0] for r in rows) or 1.0

def category(dso, kind, symbol):
    if kind == "k":
        return "kernel (TCP over loopback, scheduling)"
    for name, pattern in CATEGORIES:
        if pattern.search(symbol):
            return name
    return "everything else (hyper, axum, the mock's own code, std)"

shares = {}
for share, dso, kind, symbol in rows:
    key = category(dso, kind, symbol)
    shares[key] = shares.get(key, 0.0) + share
print(f"`perf record` of the mock's threads (`{COMM}`) while 64 clients refresh for 5 s "
      "(sampled at 499 Hz; shares of the mock's own samples).\n")
print("| where | share of the mock's time |\n|---|---:|")
for key, share in sorted(shares.items(), key=lambda kv: -kv[1]):
    print(f"| {key} | {share / total * 100:.1f}% |")
print("\nTop symbols:\n\n| symbol | share |\n|---|---:|")
for share, dso, kind, symbol in sorted(rows, key=lambda r: -r[0])[:15]:
    symbol = symbol.replace("|", "\\|")
    if len(symbol) > 110:
        symbol = symbol[:107] + "..."
    print(f"| `{symbol}` | {share / total * 100:.1f}% |")
