"""The only place Azure SDK clients are built (clients.py) and called. Nothing here imports the emulator."""
