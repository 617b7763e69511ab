// Server.
