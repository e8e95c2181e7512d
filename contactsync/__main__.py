"""``python -m contactsync``: the same as the ``contactsync`` command."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="contactsync")
