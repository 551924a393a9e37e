"""`python -m stress`: the same command as the `stress` console script."""

from stress.cli import main

if __name__ == "__main__":
    main()
