"""The command-line front-end over the services."""
