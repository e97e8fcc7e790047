"""`python -m retake` runs the command line."""

from retake.ui.cli import main

if __name__ == "__main__":
    main()
