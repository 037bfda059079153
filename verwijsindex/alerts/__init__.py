"""Personal e-mail alerts: the index's side (recipients, switches, the delivery log)."""
