#!/usr/bin/env python3
"""What OpenTelemetry costs a sync (issue #22): run by scripts/bench-otel, which builds what this
needs and installs the receiver's packages.

The fast emulator serves a synthetic pool (200,000 users and 200 groups by default, 1.5
memberships per user) with no latency and its quotas scaled up, so that the sync is bound by the
connector's own work, where the cost of a span per Cognito call would show. The same one-shot
sync then runs alternately without a collector and exporting its spans and logs over OTLP/gRPC
(plaintext) to a receiver in this process, which counts what it gets. Reported: the median wall
time and CPU time (user + system) of each, their ratio, and the spans and log records received.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scenarios import (  # noqa: E402
    ACCESS_KEY,
    SECRET_KEY,
    connector_env,
    log,
    start_synthetic_fast_emulator,
)


class Receiver(trace_service_pb2_grpc.TraceServiceServicer, logs_service_pb2_grpc.LogsServiceServicer):
    """Counts the spans and log records exported to it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans = 0
        self.logs = 0

    def Export(self, request, context):  # noqa: N802 (gRPC's name)
        with self.lock:
            if isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
                self.spans += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
                return trace_service_pb2.ExportTraceServiceResponse()
            self.logs += sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
            return logs_service_pb2.ExportLogsServiceResponse()


def start_receiver() -> tuple[grpc.Server, Receiver, int]:
    receiver = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, receiver, port


def sync(args: argparse.Namespace, url: str, pool_id: str, extra: list[str]) -> tuple[float, float]:
    """One sync: its wall time and CPU time (user + system), in seconds."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [args.connector, "--user-pool-id", pool_id, "--endpoint-url", url,
                   "--aws-access-key-id", ACCESS_KEY, "--aws-secret-access-key", SECRET_KEY,
                   "--api-budget", "1", "--quota-scale", "unlimited",
                   "-f", str(Path(scratch) / "sync.c1z"), *extra]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        done = subprocess.run(command, env=dict(connector_env(), BATON_LOG_LEVEL="info"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"sync failed ({done.returncode}): {done.stderr[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connector", required=True)
    ap.add_argument("--fast-emulator", required=True)
    ap.add_argument("--users", type=int, default=200_000)
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3, help="runs of each, alternated")
    ap.add_argument("--json", help="write the raw figures here")
    args = ap.parse_args()

    server, receiver, port = start_receiver()
    emulator, url, pool_id = start_synthetic_fast_emulator(
        args.fast_emulator, args.users, args.groups, ["--latency-ms", "0", "--quota-scale", "1000"])
    exporting = ["--otel-collector-endpoint", f"127.0.0.1:{port}",
                 "--otel-collector-endpoint-tls-insecure"]
    runs: dict[str, list[tuple[float, float]]] = {"no collector": [], "OTLP export": []}
    try:
        sync(args, url, pool_id, [])  # warm-up: page cache, the emulator's first answers
        for i in range(args.runs):
            for name, extra in (("no collector", []), ("OTLP export", exporting)):
                runs[name].append(sync(args, url, pool_id, extra))
                log(f"run {i + 1} {name}: wall {runs[name][-1][0]:.2f} s, cpu {runs[name][-1][1]:.2f} s")
    finally:
        emulator.terminate()
        server.stop(grace=None)

    median = {name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r))
              for name, r in runs.items()}
    base_wall, base_cpu = median["no collector"]
    print(f"{args.users:,} users, {args.groups} groups; median of {args.runs} runs each, alternated\n")
    print("| | wall | CPU (user + system) | wall ratio | CPU ratio |")
    print("|---|---|---|---|---|")
    for name, (wall, cpu) in median.items():
        print(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {wall / base_wall:.2f}x | {cpu / base_cpu:.2f}x |")
    per_run_spans = receiver.spans / args.runs
    per_run_logs = receiver.logs / args.runs
    print(f"\nreceived per exporting run: {per_run_spans:,.0f} spans, {per_run_logs:,.0f} log records")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "users": args.users, "groups": args.groups, "runs": runs, "median": median,
            "spans_per_run": per_run_spans, "logs_per_run": per_run_logs,
        }, indent=2) + "\n")


if __name__ == "__main__":
    main()
