"""Customer e-mail: rendering (render.py, templates/), the return label (label.py), the shop's
settings (shop.py), and the outbox relay over SMTP (relay.py), its settings and the embedded mail
sink (sink.py)."""
