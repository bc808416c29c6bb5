"""Digests: build (pure), render (Jinja2), store in the outbox, send over SMTP."""
