#!/usr/bin/python3
"""python_keepalive_client.py — a grpcio client that pings too often (keepalive_interop_test.sh).

  /usr/bin/python3 python_keepalive_client.py --server_port=PORT [--hold_s=10]

One EmptyCall, then the channel stays open for --hold_s seconds with gRFC A8 keepalive pings
every 100 ms, without calls and without a limit on pings without data
(grpc.keepalive_time_ms=100, grpc.http2.max_pings_without_data=0,
grpc.keepalive_permit_without_calls=1). A gRPC server answers GOAWAY ENHANCE_YOUR_CALM
"too_many_pings"; grpcio's C-core logs it on stderr ("Received a GOAWAY with error code
ENHANCE_YOUR_CALM and debug data equal to "too_many_pings""), which the test driver watches
for, and stops this process once it has seen it.
"""

import argparse
import sys
import time

import grpc


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--server_port', type=int, required=True)
    p.add_argument('--hold_s', type=float, default=10)
    args = p.parse_args()
    options = [('grpc.keepalive_time_ms', 100), ('grpc.http2.max_pings_without_data', 0),
               ('grpc.keepalive_permit_without_calls', 1)]
    channel = grpc.insecure_channel('127.0.0.1:%d' % args.server_port, options=options)
    # Watching the connectivity state keeps a thread polling the channel: without it, grpcio
    # sends one keepalive PING while the main thread sleeps and never reads its ACK.
    states = []
    channel.subscribe(states.append, try_to_connect=True)
    empty = channel.unary_unary('/grpc.testing.TestService/EmptyCall',
                                request_serializer=lambda m: m,
                                response_deserializer=lambda m: m)
    empty(b'', timeout=10)  # Empty is zero bytes on the wire
    print('EmptyCall ok; pinging every 100 ms', flush=True)
    time.sleep(args.hold_s)  # the pings' time, not a wait for anything: the driver stops us
    print('states: %s' % states, flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
