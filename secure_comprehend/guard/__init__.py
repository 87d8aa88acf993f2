"""The guard: protected clients, their botocore handlers and the one request path;
the botocore internals it relies on, in one module."""
