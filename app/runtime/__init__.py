"""The live config of a running gateway: the reloader (LISTEN/NOTIFY plus a one-second poll)
that swaps snapshots into :class:`app.config.holder.ConfigHolder`, and admin edits, on top of
the pure compiler in :mod:`app.config`."""
