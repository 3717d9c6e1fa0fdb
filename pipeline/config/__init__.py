"""Everything the user writes, read and validated once, up front: the project file, its source text and the
editable screenplay, with errors that name the file, line and field."""
