"""Customer e-mail: rendering (render.py, templates/), the return label (label.py), the shop's
settings (shop.py)."""
