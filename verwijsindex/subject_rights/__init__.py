"""subject_rights."""
