"""Entry point for ``python -m snapexport``."""

from snapexport.cli import main

if __name__ == "__main__":
    main()
