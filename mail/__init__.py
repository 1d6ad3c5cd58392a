"""Customer e-mail: the outbox relay over SMTP, its settings and the embedded mail sink."""
