"""gRPC servicers: the only server modules that touch pb2 types."""
