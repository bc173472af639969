#!/usr/bin/python3
"""python_keepalive_server.py — a grpcio server for our client's keepalive (keepalive_interop_test.sh).

  /usr/bin/python3 python_keepalive_server.py --descriptor_set=interop.desc \
      [--min_ping_interval_ms=N]

Serves grpc.testing.TestService/StreamingOutputCall (each response after its interval_us) on
127.0.0.1, port 0, and prints "listening PORT". --min_ping_interval_ms sets
grpc.http2.min_ping_interval_without_data_ms (default: grpcio's, 5 min). Stops on SIGTERM.
"""

import argparse
import concurrent.futures
import os
import signal
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from python_interop_client import load_messages  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--descriptor_set', default='')
    p.add_argument('--min_ping_interval_ms', type=int, default=-1)
    args = p.parse_args()
    m = load_messages(args.descriptor_set)

    def streaming_output_call(request, context):
        for params in request.response_parameters:
            if params.interval_us:
                time.sleep(params.interval_us / 1e6)  # what the call asks for
            yield m.StreamingOutputCallResponse(payload={'body': b'\0' * params.size})

    handler = grpc.method_handlers_generic_handler('grpc.testing.TestService', {
        'StreamingOutputCall': grpc.unary_stream_rpc_method_handler(
            streaming_output_call,
            request_deserializer=m.StreamingOutputCallRequest.FromString,
            response_serializer=lambda r: r.SerializeToString()),
    })
    options = []
    if args.min_ping_interval_ms >= 0:
        options.append(('grpc.http2.min_ping_interval_without_data_ms',
                        args.min_ping_interval_ms))
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4), options=options)
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port('127.0.0.1:0')
    server.start()
    print('listening %d' % port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(0.5).wait()
    return 0


if __name__ == '__main__':
    sys.exit(main())
