#!/usr/bin/python3
"""grpcio (Debian's python3-grpcio) against an example server's grpc.health.v1.Health.

  health_client.py --target=HOST:PORT [--ca_file=ca.pem] --descriptor_set=health.desc \
      --serving=SERVICE [--watch_until_shutdown]

Checks "" and SERVICE (SERVING) and an unknown service (NOT_FOUND), then, with
--watch_until_shutdown, watches "" and prints "watching: SERVING", waits for the server's
shutdown to say NOT_SERVING and for the stream to end OK. Prints "health ok" at the end; any
mismatch exits 1. The messages come from the proto_library's descriptor set (grpc_health is
not packaged in Debian).
"""
import argparse
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def fail(message):
    print('health_client: ' + message, flush=True)
    sys.exit(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--target', required=True)
    p.add_argument('--ca_file', default='')
    p.add_argument('--descriptor_set', required=True)
    p.add_argument('--serving', required=True)
    p.add_argument('--watch_until_shutdown', action='store_true')
    args = p.parse_args()

    files = descriptor_pb2.FileDescriptorSet()
    with open(args.descriptor_set, 'rb') as f:
        files.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    factory = message_factory.MessageFactory(pool)
    Request = factory.GetPrototype(pool.FindMessageTypeByName('grpc.health.v1.HealthCheckRequest'))
    Response = factory.GetPrototype(pool.FindMessageTypeByName('grpc.health.v1.HealthCheckResponse'))
    status_name = Response.DESCRIPTOR.enum_types_by_name['ServingStatus'].values_by_number

    if args.ca_file:
        with open(args.ca_file, 'rb') as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        channel = grpc.secure_channel(args.target, creds)
    else:
        channel = grpc.insecure_channel(args.target)
    check = channel.unary_unary('/grpc.health.v1.Health/Check',
                                request_serializer=Request.SerializeToString,
                                response_deserializer=Response.FromString)
    watch = channel.unary_stream('/grpc.health.v1.Health/Watch',
                                 request_serializer=Request.SerializeToString,
                                 response_deserializer=Response.FromString)

    for service in ['', args.serving]:
        got = status_name[check(Request(service=service), timeout=10).status].name
        print('check %r: %s' % (service, got), flush=True)
        if got != 'SERVING':
            fail('%r is %s, not SERVING' % (service, got))
    try:
        check(Request(service='no.such.Service'), timeout=10)
        fail('an unknown service did not fail')
    except grpc.RpcError as e:
        print('check unknown: %s' % e.code().name, flush=True)
        if e.code() != grpc.StatusCode.NOT_FOUND:
            fail('an unknown service is %s, not NOT_FOUND' % e.code().name)

    if args.watch_until_shutdown:
        stream = watch(Request(service=''), timeout=60)
        statuses = []
        for response in stream:
            statuses.append(status_name[response.status].name)
            print('watching: %s' % statuses[-1], flush=True)
        if statuses != ['SERVING', 'NOT_SERVING']:
            fail('watched %s, not SERVING then NOT_SERVING' % statuses)
        if stream.code() != grpc.StatusCode.OK:
            fail('the watch ended with %s' % stream.code().name)
        print('watch ended OK', flush=True)
    print('health ok', flush=True)


if __name__ == '__main__':
    main()
