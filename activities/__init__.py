"""Activities: all I/O of a ReturnCase (event store, policy file, effects). No decisions here."""
