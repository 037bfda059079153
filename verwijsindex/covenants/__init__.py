"""A municipality's covenant (convenant): who may coordinate after a match, and the deadlines."""
