"""Worker processes: the CPU work runs there, never in the gRPC process."""
