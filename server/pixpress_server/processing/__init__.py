"""Image processing, run in worker processes: format table, encoders and post-passes."""
