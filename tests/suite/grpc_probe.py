"""Goflix's gRPC port seen by grpcio, a client nobody here wrote: the
standard health service and server reflection (grpcio-reflection speaks
v1alpha only). Prints one JSON object: each health status, the services
listed by reflection and the methods of the runner service, read from the
descriptor that reflection serves.

Usage: grpc_probe.py HOST:PORT [CA_FILE]   (a CA file means TLS)
"""

import json
import sys

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

RUNNER_SERVICE = "goflix.runner.v1.RunnerService"


def channel(target, ca_file):
    if ca_file is None:
        return grpc.insecure_channel(target)
    with open(ca_file, "rb") as pem:
        credentials = grpc.ssl_channel_credentials(root_certificates=pem.read())
    return grpc.secure_channel(target, credentials)


def main():
    target = sys.argv[1]
    ca_file = sys.argv[2] if len(sys.argv) > 2 else None
    with channel(target, ca_file) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        statuses = {}
        for service in ("", RUNNER_SERVICE):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            statuses[service] = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
        reflection = ProtoReflectionDescriptorDatabase(ch)
        services = sorted(reflection.get_services())
        runner = DescriptorPool(reflection).FindServiceByName(RUNNER_SERVICE)
        methods = sorted(method.name for method in runner.methods)
    print(json.dumps({"health": statuses, "services": services, "methods": methods}))


if __name__ == "__main__":
    main()
