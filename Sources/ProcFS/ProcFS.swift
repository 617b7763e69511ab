// ProcFS readers.
