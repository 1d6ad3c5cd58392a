"""Payment providers: the port every refund goes through, and its adapters (the PostgreSQL ledger,
Stripe, Mollie), chosen per payment method by configuration (payments/settings.py)."""
