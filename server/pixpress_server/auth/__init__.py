"""API keys: creation, hashing and checking, the auth interceptor, and the `keys` commands."""
