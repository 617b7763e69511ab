"""memd-script's parts: connection (the socket), scenarios (the loader), validator (the checks of
each reply), runner (the steps), common (what they share)."""
