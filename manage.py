#!/usr/bin/env python
"""Django's manage.py; the `careway` console command is the same entry point."""

from careway.__main__ import main

if __name__ == "__main__":
    main()
