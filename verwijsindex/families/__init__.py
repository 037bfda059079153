"""Family matches (gezinsmatch): registrations of different youths by different professionals
that share a parent or guardian."""
