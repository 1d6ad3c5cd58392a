"""Store credit the shop reads and redeems: the balance of a customer over the API (issue 12)."""
